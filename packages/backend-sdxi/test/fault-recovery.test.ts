/**
 * Recovery from a descriptor fault only the function sees: an overlapping copy between two
 * regions that alias only inside the function (aliasing-function.ts binds one's memory as the
 * other's; the Mover judges overlap by address, so the public API alone cannot reach this
 * fault — two SharedArrayBuffer objects over one memory are refused before anything is queued,
 * checked last below). The session may
 * drain the error log from its poll path before the error interrupt arrives; the context must
 * still restart, later work must run, `{ timeout }` and close() must settle, and the process must
 * stay alive while work is in flight.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { DatamoverError, Mover, type Region } from '@datamover/core';
import { sdxi } from '../src/index.js';
import { aliasingFunction } from './aliasing-function.js';
import { rig } from './rig.js';

/** The same memory as `sab`, as another SharedArrayBuffer object (a SAB posted through a MessageChannel comes back as a new object). */
async function alias(sab: SharedArrayBuffer): Promise<SharedArrayBuffer> {
  const { port1, port2 } = new MessageChannel();
  port1.postMessage(sab);
  const copy = await new Promise<SharedArrayBuffer>((resolve) => port2.once('message', resolve));
  port1.close();
  return copy;
}

/** `p`, or a rejection naming `what` when it has not settled within `ms`. */
function settles<T>(p: Promise<T>, what: string, ms = 3000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms)));
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

const movers: Mover[] = [];
afterEach(async () => {
  for (const m of movers.splice(0)) await settles(m.close({ abort: true }), 'afterEach close');
});

async function faulting(): Promise<{ m: Mover; a: Region; b: Region; out: Region }> {
  const sab = new SharedArrayBuffer(4096);
  const other = new SharedArrayBuffer(4096);
  const m = await Mover.open({ backends: [sdxi({ createFunction: aliasingFunction(other, sab) })] });
  movers.push(m);
  new Uint8Array(sab).fill(7, 0, 64);
  return { m, a: m.wrap(sab), b: m.wrap(other), out: m.wrap(new Uint8Array(4096)) };
}

/** A batch whose second copy overlaps its own source inside the function: BATCH_FAILED, descriptor 1 failed. */
async function expectFault(m: Mover, a: Region, b: Region, out: Region): Promise<void> {
  const batch = m.batch();
  batch.copy(out, a, { length: 64 });
  batch.copy(b, a, { dstOffset: 32, length: 64 });
  const err = await settles(batch.submit(), 'the faulting batch').then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DatamoverError);
  expect(err).toMatchObject({ code: 'BATCH_FAILED' });
  const result = (err as DatamoverError & { result: { status(i: number): string; error(i: number): DatamoverError | undefined } }).result;
  expect([result.status(0), result.status(1)]).toEqual(['done', 'failed']);
  expect(result.error(1)).toBeInstanceOf(DatamoverError);
  expect(result.error(1)?.code).toBe('OVERLAPPING_RANGES');
}

describe('sdxi fault recovery', () => {
  // Repeated: the poll path draining the error log before its interrupt is a race the first
  // fault of a session rarely loses and later ones nearly always do.
  const ROUNDS = 20;

  it('after each overlapping copy inside the function the context restarts: later copies and { timeout } submits settle, then close()', async () => {
    const { m, a, b, out } = await faulting();
    for (let k = 0; k < ROUNDS; k++) {
      await expectFault(m, a, b, out);
      out.bytes().fill(0);
      await settles(m.copy(out, a, { length: 64 }), `copy after fault ${k}`);
      expect(out.bytes()[63]).toBe(7);
      const r = await settles(m.batch().copy(out, a, { dstOffset: 64, length: 64 }).submit({ timeout: 2000 }), `{ timeout } submit after fault ${k}`);
      expect(r.ok).toBe(true);
    }
    expect(m.stats().backends[0]!.engine).toMatchObject({ faults: ROUNDS, contextRestarts: ROUNDS });
    movers.splice(movers.indexOf(m), 1);
    await settles(m.close(), 'close()');
  });

  it('close({ abort: true }) settles after a fault, with a copy in flight', async () => {
    const { m, a, b, out } = await faulting();
    let inFlight: Promise<string> | undefined;
    // Until a copy after a fault is still in flight a moment later (or ROUNDS tries).
    for (let k = 0; k < ROUNDS && inFlight === undefined; k++) {
      await expectFault(m, a, b, out);
      const copy = m.copy(out, a, { length: 64 }).then(
        () => 'done',
        (e: DatamoverError) => e.code,
      );
      const quick = await Promise.race([copy, new Promise((r) => setTimeout(r, 200, 'pending'))]);
      if (quick === 'pending' || k === ROUNDS - 1) inFlight = copy;
    }
    movers.splice(movers.indexOf(m), 1);
    await settles(m.close({ abort: true }), 'close({ abort: true })');
    expect(['done', 'ABORTED']).toContain(await settles(inFlight!, 'the copy in flight at close'));
  });

  it('an error interrupt with no admin command outstanding keeps a session\'s hold on the process', async () => {
    const r = await rig();
    const calls: boolean[] = [];
    const hold = r.fn.hold.bind(r.fn);
    r.fn.hold = (active) => {
      calls.push(active);
      hold(active);
    };
    r.device.hold(true); // a session with work in flight
    r.device.admin.complete(); // what the error interrupt runs
    r.device.admin.abandon('test');
    expect(calls).toEqual([true]);
    r.device.hold(false);
    expect(calls).toEqual([true, false]);
  });

  it('a child process awaiting a copy after faults does not exit (13) with the promise pending', () => {
    // The built package (dist), as an application imports it, with aliasing-function.ts's test double inline.
    const script = `
      import { Mover } from '@datamover/core';
      import { sdxi, SoftwareSdxiFunction } from '@datamover/backend-sdxi';
      const sab = new SharedArrayBuffer(4096), sab2 = new SharedArrayBuffer(4096);
      class Aliasing extends SoftwareSdxiFunction {
        bindAddressSpace(memory, writable) {
          return super.bindAddressSpace(memory.view.buffer === sab2 ? { kind: 'host', view: new Uint8Array(sab) } : memory, writable);
        }
      }
      const m = await Mover.open({ backends: [sdxi({ createFunction: () => new Aliasing() })] });
      const a = m.wrap(sab), b = m.wrap(sab2), out = m.wrap(new Uint8Array(4096));
      for (let k = 0; k < ${ROUNDS}; k++) {
        const e = await m.copy(b, a, { dstOffset: 32, length: 64 }).catch((e) => e);
        if (e?.code !== 'OVERLAPPING_RANGES') throw new Error('fault ' + k + ' reported as ' + e?.code);
        await m.copy(out, a, { length: 64, timeout: 2000 });
      }
      await m.close();
      process.stdout.write('settled');`;
    const cwd = fileURLToPath(new URL('..', import.meta.url));
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd, encoding: 'utf8', timeout: 20_000 });
    expect({ status: r.status, stdout: r.stdout, stderr: r.stderr }).toEqual({ status: 0, stdout: 'settled', stderr: '' });
  });

  it('two SharedArrayBuffer objects over one memory are refused up front (overlap by address): nothing reaches the function', async () => {
    const m = await Mover.open({ backends: [sdxi()] });
    movers.push(m);
    const sab = new SharedArrayBuffer(4096);
    const a = m.wrap(sab);
    const b = m.wrap(await alias(sab));
    expect(() => m.batch().copy(b, a, { dstOffset: 32, length: 64 })).toThrow(expect.objectContaining({ code: 'OVERLAPPING_RANGES' }));
    await m.copy(b, a, { dstOffset: 64, length: 64 }); // adjacent, not overlapping: runs
    expect(m.stats().backends[0]!.engine).toMatchObject({ faults: 0 });
  });
});
