/** Mover.alloc / wrap of a backend's own memory kind: dispatch to the session's MemoryProvider, core's checks, release. */
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode, Mover, type AddressSpace, type BackendMemory, type MemoryProvider } from '../src/index.js';
import { codeOf } from './fixtures/code-of.js';
import { oracleBackend } from './fixtures/oracle-backend.js';

/** A stand-in for a GPU backend's memory: core sees only BackendMemory. */
interface TestGpuMemory extends BackendMemory {
  readonly device: number;
  readonly buffer: object;
}
/** Its space, as a GPU backend would describe it (core has no gpu space of its own). */
const gpuSpace = (device: number, alignment: number): AddressSpace => ({ kind: 'gpu', name: `cuda:${device}`, cpuAccessible: false, persistent: false, alignment: alignment || 1, deviceId: device });

/** A provider of kind 'gpu' that records its calls and the releases of what it handed out. */
function recordingProvider() {
  const calls: unknown[][] = [];
  let released = 0;
  const memory = (device: number, buffer = {}): TestGpuMemory => ({ kind: 'gpu', device, backend: 'test', buffer, identity: { object: buffer, offset: 0 }, release: () => released++ });
  const provider: MemoryProvider = {
    kind: 'gpu',
    allocOptions: ['device'],
    allocate(size, alignment, options) {
      calls.push(['allocate', size, alignment, options]);
      return { memory: memory(Number(options.device ?? 0)), space: gpuSpace(Number(options.device ?? 0), alignment) };
    },
    wrapOptions: ['device'],
    wrap(handle, size, options) {
      calls.push(['wrap', handle, size, options]);
      return { memory: memory(0), space: gpuSpace(0, 1) };
    },
  };
  return { provider, calls, released: () => released };
}

let m: Mover | undefined;
afterEach(async () => {
  await m?.close();
  m = undefined;
});

describe('memory providers', () => {
  it('alloc({ kind }) and wrap(handle, { kind, size }) go to the provider of that kind, with its own keys only', async () => {
    const rec = recordingProvider();
    m = await Mover.open({ backends: [oracleBackend({ memoryProviders: [rec.provider] })] });
    const a = m.alloc(8192, { kind: 'gpu', device: 2 });
    expect([a.kind, a.length, a.writable, a.space.name]).toEqual(['gpu', 8192, true, 'cuda:2']);
    // Device memory is not bounded by the runtime's ArrayBuffer limit, as host memory is.
    expect(m.alloc(2 ** 33, { kind: 'gpu' }).length).toBe(2 ** 33);
    const w = m.wrap(0x1234n, { kind: 'gpu', size: 100, readOnly: true, device: 0 });
    expect([w.kind, w.length, w.writable]).toEqual(['gpu', 100, false]);
    expect(rec.calls).toEqual([
      ['allocate', 8192, 4096, { device: 2 }],
      ['allocate', 2 ** 33, 4096, {}],
      ['wrap', 0x1234n, 100, { device: 0 }],
    ]);
    await a.release();
    await w.release();
    expect(rec.released()).toBe(2); // the 8 GiB one is released by close()
  });

  it('refuses what core checks before the provider is asked, and keys the provider did not declare', async () => {
    const rec = recordingProvider();
    m = await Mover.open({ backends: [oracleBackend({ memoryProviders: [rec.provider] })] });
    expect(codeOf(() => m!.alloc(-1, { kind: 'gpu' }))).toBe(ErrorCode.INVALID_SIZE);
    expect(codeOf(() => m!.alloc(64, { kind: 'gpu', alignment: 3 }))).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(codeOf(() => m!.alloc(64, { kind: 'gpu', devcie: 1 }))).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(codeOf(() => m!.alloc(64, { kind: 5 as never }))).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(codeOf(() => m!.wrap(1n, { kind: 'gpu', size: -4 }))).toBe(ErrorCode.INVALID_SIZE);
    expect(codeOf(() => m!.wrap(1n, { kind: 'gpu', size: 4, alignment: 8 }))).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(codeOf(() => m!.alloc(64, null as never))).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(codeOf(() => m!.wrap(1n, 5 as never))).toBe(ErrorCode.INVALID_ARGUMENT);
    // Host calls keep their own keys.
    expect(codeOf(() => m!.alloc(64, { device: 0 }))).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(codeOf(() => m!.wrap(new Uint8Array(4), { kind: 'host', size: 4 } as never))).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(rec.calls).toEqual([]);
  });

  it('no open backend provides the kind: UNSUPPORTED_OPERATION saying what is open and what is not', async () => {
    const down = oracleBackend({ name: 'gpuish', probe: { available: false, reason: 'no GPU' } });
    m = await Mover.open({ backends: [down, oracleBackend()] });
    expect(() => m!.alloc(64, { kind: 'gpu' })).toThrow(expect.objectContaining({ code: ErrorCode.UNSUPPORTED_OPERATION, message: 'no open backend can allocate gpu memory (open: oracle; unavailable: gpuish: no GPU)' }));
    expect(codeOf(() => m!.wrap(1n, { kind: 'dax', size: 8 }))).toBe(ErrorCode.UNSUPPORTED_OPERATION);
  });

  it('a provider that hands back memory of the wrong kind for its space gets it released and refused', async () => {
    const rec = recordingProvider();
    let released = 0;
    const buffer = {};
    const liar: MemoryProvider = { kind: 'gpu', allocate: () => ({ memory: { kind: 'gpu', device: 0, backend: 'test', buffer, identity: { object: buffer, offset: 0 }, release: () => released++ }, space: { ...gpuSpace(0, 1), kind: 'dax' } }) };
    m = await Mover.open({ backends: [oracleBackend({ memoryProviders: [liar, rec.provider] })] });
    expect(codeOf(() => m!.alloc(64, { kind: 'gpu' }))).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(released).toBe(1);
  });
});
