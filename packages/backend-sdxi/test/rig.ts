/**
 * A software SDXI function driven directly (no Mover): an activated device, a started client
 * context, a producer, guarded address spaces and CST_BLKs — what the spec tests poke at.
 */
import { afterEach } from 'vitest';
import { contextVector, Producer, SdxiDevice, SoftwareSdxiFunction, type ContextMemory, type DmaBuffer } from '../src/index.js';

export const CONTEXT = 1;
/** The client context's interrupt AKey (the last of its 256-entry table). */
export const INTR_AKEY = 255;
export const GUARD = 256;

export interface Space {
  readonly pasid: number;
  /** The bound bytes, and the guarded allocation around them. */
  readonly view: Uint8Array;
  readonly backing: Uint8Array;
  /** True when the guard bands still hold their pattern. */
  guardsIntact(): boolean;
}

export interface Rig {
  readonly fn: SoftwareSdxiFunction;
  readonly device: SdxiDevice;
  readonly cxt: ContextMemory;
  readonly producer: Producer;
  /** Binds `size` guarded bytes as an address space and names it with AKey `akey`. */
  space(akey: number, size: number, options?: { writable?: boolean; fill?: (i: number) => number }): Space;
  /** A fresh 32-byte CST_BLK armed with signal = 1. */
  cst(): Cst;
}

export interface Cst {
  readonly address: bigint;
  signal(): bigint;
  error(): boolean;
  /** Bytes 16–23: a vendor operation's result. */
  result(): bigint;
}

const open: Rig[] = [];
afterEach(() => {
  for (const r of open.splice(0)) r.device.close();
});

export async function rig(options: { entries?: number } = {}): Promise<Rig> {
  const fn = new SoftwareSdxiFunction({ arenaBytes: 16 << 20 });
  const device = await SdxiDevice.activate(fn);
  const cxt = device.createContext(CONTEXT, { entries: options.entries ?? 1024 });
  cxt.setAkey(INTR_AKEY, { vector: contextVector(CONTEXT) });
  await device.start(cxt);
  const producer = new Producer(cxt, (v) => fn.doorbell(CONTEXT, v));
  const r: Rig = {
    fn,
    device,
    cxt,
    producer,
    space(akey, size, o = {}) {
      const backing = new Uint8Array(new SharedArrayBuffer(size + 2 * GUARD));
      for (let i = 0; i < backing.length; i++) backing[i] = (i * 131 + 7) & 0xff;
      const view = backing.subarray(GUARD, GUARD + size);
      if (o.fill) for (let i = 0; i < size; i++) view[i] = o.fill(i);
      else view.fill(0);
      const pasid = fn.bindAddressSpace({ kind: 'host', view }, o.writable ?? true);
      cxt.setAkey(akey, { pasid });
      return {
        pasid,
        view,
        backing,
        guardsIntact: () => {
          for (let i = 0; i < GUARD; i++) if (backing[i] !== ((i * 131 + 7) & 0xff)) return false;
          for (let i = GUARD + size; i < backing.length; i++) if (backing[i] !== ((i * 131 + 7) & 0xff)) return false;
          return true;
        },
      };
    },
    cst() {
      return cstAt(fn.allocate(32, 32));
    },
  };
  open.push(r);
  return r;
}

export function cstAt(b: DmaBuffer): Cst {
  const u64 = new BigUint64Array(b.buffer, b.offset, 4);
  const u32 = new Uint32Array(b.buffer, b.offset, 8);
  u64[0] = 1n;
  u32[2] = 0;
  return {
    address: b.address,
    signal: () => Atomics.load(u64, 0),
    error: () => (Atomics.load(u32, 2) & 0x8000_0000) !== 0,
    result: () => u64[2]!,
  };
}

/** Waits (yielding to the event loop) until `cond` holds; fails after `ms`. */
export async function until(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setImmediate(r));
  }
}

/** Waits for a while and checks `cond` never became true (the function had time to act). */
export async function never(cond: () => boolean, ms = 50): Promise<boolean> {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    if (cond()) return false;
    await new Promise((r) => setTimeout(r, 1));
  }
  return true;
}
