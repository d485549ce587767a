/**
 * Where a session's inline cost model (docs/performance.md) comes from: given by option or
 * environment; else measured on the session's own ring at open, within a deadline (past it, a
 * documented conservative model, also taken by a session that completes on the JS thread), once
 * per process per backend: later opens reuse the outcome.
 */
import type { EngineSession } from './backend.js';
import { OPCODE } from './descriptor/generated.js';
import { OPCODE_BITS } from './descriptor/schema.js';
import { datamoverError, ErrorCode } from './errors.js';
import { measuredCopyNsPerByte, type InlineCosts, type InlineModel } from './inline.js';
import type { Ring } from './ring/ring.js';

const VALID = 1 << OPCODE_BITS.valid;
/** Round trips the hand-off cost is the median of. */
const HANDOFF_TRIPS = 15;
/** NOPs the per-descriptor inline cost is measured on. */
const CALIBRATION_NOPS = 64;
/** The most a calibration may hold the JS thread at open; past it the conservative model is used. */
export const CALIBRATION_DEADLINE_MS = 50;

/**
 * The model used when calibration ran past its deadline (an overloaded machine, a stalled engine):
 * a 5 µs hand-off (the offloaded 4 KiB round trip measured on an idle machine), 250 ns a
 * descriptor and 10 GB/s, so 'auto' runs inline only work that is cheap on any machine.
 */
export const CONSERVATIVE_COSTS: InlineCosts = { handoffNs: 5_000, perDescriptorNs: 250, perByteNs: 0.1 };

const COST_KEYS = ['handoffNs', 'perDescriptorNs', 'perByteNs'] as const;

/** The models this process measured (or fell back to), by backend name. */
const measured = new Map<string, Pick<InlineModel, keyof InlineCosts | 'source'>>();

/** Checks the `inlineModel` option (or DATAMOVER_INLINE_MODEL's parsed value): three finite, positive costs. */
export function checkInlineCosts(value: unknown, where: string): InlineCosts | undefined {
  if (value === undefined) return undefined;
  const v = value as Record<string, unknown>;
  const ok = typeof value === 'object' && value !== null && Object.keys(v).every((k) => (COST_KEYS as readonly string[]).includes(k)) && COST_KEYS.every((k) => typeof v[k] === 'number' && Number.isFinite(v[k]) && v[k] > 0);
  if (!ok) throw datamoverError(ErrorCode.INVALID_ARGUMENT, `${where} must give handoffNs, perDescriptorNs and perByteNs, each a positive number`);
  return { handoffNs: v.handoffNs as number, perDescriptorNs: v.perDescriptorNs as number, perByteNs: v.perByteNs as number };
}

/** DATAMOVER_INLINE_MODEL, "handoffNs=5000,perDescriptorNs=250,perByteNs=0.1", when set. */
export function environmentInlineCosts(): InlineCosts | undefined {
  const env = process.env.DATAMOVER_INLINE_MODEL;
  if (env === undefined || env === '') return undefined;
  const parsed: Record<string, number> = {};
  for (const part of env.split(',')) {
    const [k, v, extra] = part.split('=');
    parsed[k!.trim()] = extra === undefined && v !== undefined && v.trim() !== '' ? Number(v) : NaN;
  }
  return checkInlineCosts(parsed, 'DATAMOVER_INLINE_MODEL');
}

/**
 * The model for a session of backend `backend`: `given` (the option's, else the environment's)
 * when set; else this process's earlier outcome for the backend; else measured now. A
 * measurement past the deadline leaves its NOPs in flight (slots [ring.retired, ring.writeIndex)),
 * for the caller to retire as the engine finishes them.
 */
export function inlineModel(ring: Ring, session: EngineSession, backend: string, given: { costs: InlineCosts; source: 'option' | 'environment' } | undefined): InlineModel {
  if (given) return { ...given.costs, source: given.source, cached: false, calibrationMs: 0 };
  const known = measured.get(backend);
  if (known) return { ...known, cached: true, calibrationMs: 0 };
  // A session whose completions need this thread (not `concurrent`: sdxi's) cannot be timed by spinning here.
  const t0 = performance.now();
  const costs = session.concurrent ? measure(ring, session, t0 + CALIBRATION_DEADLINE_MS) : undefined;
  const model = costs ? { ...costs, source: 'measured' as const } : { ...CONSERVATIVE_COSTS, source: 'conservative' as const };
  measured.set(backend, model);
  return { ...model, cached: false, calibrationMs: session.concurrent ? performance.now() - t0 : 0 };
}

/**
 * The constants measured on the session's engine while its ring is still empty: the hand-off as
 * the median round trip of one NOP through the engine's thread (doorbell, wake-up, completion
 * seen here), the per-descriptor cost as 64 NOPs settled inline. Undefined past `deadline`.
 */
function measure(ring: Ring, session: EngineSession, deadline: number): InlineCosts | undefined {
  const writeNops = (n: number) => {
    for (let k = 0; k < n; k++) {
      const i = ring.writeIndex++;
      const w = ring.slotWord(i);
      ring.arm(i, 0, false);
      for (let j = 1; j < 14; j++) ring.u32[w + j] = 0;
      ring.u32[w + 14] = ring.completionOffset(i);
      ring.u32[w + 15] = 0;
      ring.publish(i, OPCODE.nop | VALID);
    }
  };
  /** Waits for the engine to finish every committed NOP and retires them; false once past the deadline. */
  const drain = (): boolean => {
    let read = ring.readIndex();
    let now = performance.now();
    while (read < ring.writeIndex && now < deadline) {
      read = ring.readIndex();
      now = performance.now();
    }
    for (let i = ring.retired; i < read; i++) ring.retire(i);
    return read === ring.writeIndex && now < deadline;
  };
  try {
    const trips: number[] = [];
    // The first trip also waits for the engine's thread to start: not counted.
    for (let k = 0; k <= HANDOFF_TRIPS; k++) {
      const t0 = performance.now();
      writeNops(1);
      ring.commit();
      session.doorbell();
      if (!drain()) return undefined;
      if (k > 0) trips.push(performance.now() - t0);
    }
    trips.sort((a, b) => a - b);
    let perNop = Infinity;
    for (let k = 0; k < 3; k++) {
      writeNops(CALIBRATION_NOPS);
      const t0 = performance.now();
      const settled = session.runInline!(CALIBRATION_NOPS);
      const ms = performance.now() - t0;
      ring.commit();
      if (settled !== CALIBRATION_NOPS) session.doorbell(); // the engine's thread held the ring: let it run them
      if (!drain()) return undefined;
      if (settled === CALIBRATION_NOPS) perNop = Math.min(perNop, (ms * 1e6) / CALIBRATION_NOPS);
    }
    return { handoffNs: trips[trips.length >> 1]! * 1e6, perDescriptorNs: Number.isFinite(perNop) ? perNop : trips[0]! * 1e6, perByteNs: measuredCopyNsPerByte() };
  } finally {
    ring.clearNotify();
  }
}
