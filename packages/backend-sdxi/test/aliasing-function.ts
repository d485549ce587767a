/**
 * TEST DOUBLE (fault injection): the real software SDXI function, except that it binds the memory
 * of one SharedArrayBuffer (`bound`) wherever it is asked to bind another's (`asked`). Two regions
 * the Mover rightly sees as distinct memory then alias inside the function, and an overlapping
 * copy between them faults there: the one descriptor fault only the function detects, which the
 * public API cannot produce since overlap is judged by address before anything is queued.
 */
import type { HostMemory } from '@datamover/core';
import { SoftwareSdxiFunction, type SdxiFunction } from '../src/index.js';

export function aliasingFunction(asked: SharedArrayBuffer, bound: SharedArrayBuffer): () => SdxiFunction {
  class Aliasing extends SoftwareSdxiFunction {
    override bindAddressSpace(memory: HostMemory, writable: boolean): number {
      if (memory.view.buffer !== asked) return super.bindAddressSpace(memory, writable);
      return super.bindAddressSpace({ kind: 'host', view: new Uint8Array(bound, memory.view.byteOffset, memory.view.byteLength) }, writable);
    }
  }
  return () => new Aliasing();
}
