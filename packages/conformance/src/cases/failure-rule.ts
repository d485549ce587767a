/**
 * The failure rule, at the engine ABI (docs/engine-abi.md, "After a failure"): the suite drives
 * the backend's engine session through core's Ring, as the Mover does, with work tags of its
 * own choosing. After a descriptor of a work fails, the work's later fenced descriptors — all of
 * its later ones when the work stops on error — must complete NOT_RUN with detail afterFailure
 * and not run; other works, and untagged descriptors, are not affected.
 *
 * The failing descriptor is a copy naming AKeys no region is registered under: every engine
 * fails it at run time, whatever kinds it claims. The probes are nops (no regions either): run,
 * an engine completes them OK; held back, NOT_RUN / afterFailure.
 */
import { abi, Ring, type EngineSession } from '@datamover/core';
import { deepEqual, ok, within } from '../check.js';
import type { CaseContextApi, CaseDef } from '../types.js';

const { CompletionStatus: S, NOT_RUN_DETAIL, OPCODE, OPCODE_BITS, COMPLETION } = abi;
const FENCE = 1 << OPCODE_BITS.fence;
const VALID = 1 << OPCODE_BITS.valid;
/** AKeys no region is registered under. */
const UNREGISTERED = 4000;

type Step = 'fail' | 'nop' | 'fenced nop';
type Expect = 'failed' | 'ok' | 'held';

interface Work {
  /** The work tag's number (0: untagged). */
  work: number;
  stopOnError: boolean;
  steps: readonly (readonly [Step, Expect])[];
}

/** Works in ring order, each with what every descriptor of it must report. */
const PROGRAM: readonly Work[] = [
  {
    work: 7,
    stopOnError: false,
    steps: [['nop', 'ok'], ['fail', 'failed'], ['nop', 'ok'], ['fenced nop', 'held'], ['nop', 'ok'], ['fenced nop', 'held']],
  },
  // A failure holds back nothing of the next work.
  { work: 8, stopOnError: false, steps: [['fenced nop', 'ok'], ['nop', 'ok']] },
  {
    work: 9,
    stopOnError: true,
    steps: [['nop', 'ok'], ['fail', 'failed'], ['nop', 'held'], ['fenced nop', 'held'], ['nop', 'held']],
  },
  // Untagged descriptors (work 0) follow no failure rule.
  { work: 0, stopOnError: false, steps: [['fail', 'failed'], ['fenced nop', 'ok']] },
  // Work numbers wrap: the largest one is a work like any other.
  { work: 0xffff_ffff, stopOnError: false, steps: [['fail', 'failed'], ['fenced nop', 'held']] },
];

export function failureRuleCases(): CaseDef[] {
  return [
    {
      group: 'ordering',
      name: 'after a failure: fenced descriptors of the work (all later ones with stop-on-error) are held back, reported not-run',
      timeoutMs: 30_000,
      run: (ctx) => failureRule(ctx),
    },
  ];
}

async function failureRule(ctx: CaseContextApi): Promise<void> {
  const ring = new Ring(64);
  let wake: (() => void) | undefined;
  const session: EngineSession = await ctx.backend().open(ring, () => wake?.());
  try {
    const u32 = ring.u32;
    const expected: Expect[] = [];
    for (const w of PROGRAM) {
      for (const [step, expect] of w.steps) {
        const i = ring.writeIndex++;
        const slot = ring.slotWord(i);
        ring.arm(i, w.work, w.stopOnError);
        if (step === 'fail') abi.encodeCopyBody(u32, slot, { size: 63, attr: 0, akey0: UNREGISTERED, akey1: UNREGISTERED + 1, addr0: 0, addr1: 0 }, ring.completionOffset(i));
        else abi.encodeNopBody(u32, slot, ring.completionOffset(i));
        ring.publish(i, (step === 'fail' ? OPCODE.copy : OPCODE.nop) | (step === 'fenced nop' ? FENCE : 0) | VALID);
        expected.push(expect);
      }
    }
    const n = ring.writeIndex;
    const done = new Promise<void>((resolve) => {
      wake = () => {
        ring.clearNotify();
        if (ring.readIndex() >= n) resolve();
      };
    });
    ring.commit();
    session.hold(true);
    session.doorbell();
    wake!();
    await within(done, 20_000, `the engine finishing ${n} descriptors`);
    session.hold(false);

    const got: string[] = [];
    const want: string[] = [];
    for (let i = 0; i < n; i++) {
      const cb = ring.completionWord(i);
      const status = u32[cb + COMPLETION.status / 4]!;
      const detail = u32[cb + COMPLETION.detail / 4]! | 0;
      const seen = status === S.OK ? 'ok' : status === S.NOT_RUN ? (detail === NOT_RUN_DETAIL.afterFailure ? 'held' : `not-run (detail ${detail})`) : 'failed';
      got.push(`${i}: ${seen}`);
      want.push(`${i}: ${expected[i]!}`);
      ok(u32[cb + COMPLETION.signal / 4] === 0 && u32[cb + COMPLETION.signal / 4 + 1] === 0, `descriptor ${i} completed (signal 0)`);
    }
    deepEqual(got, want, `statuses of ${n} descriptors (${PROGRAM.map((w) => `work ${w.work}${w.stopOnError ? ' stop-on-error' : ''}: ${w.steps.map((s) => s[0]).join(', ')}`).join('; ')})`);
  } finally {
    session.close();
  }
}
