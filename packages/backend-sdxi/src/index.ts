/**
 * @packageDocumentation
 * The SDXI backend: an SDXI 1.0 producer that lays out every structure as the SNIA spec does in
 * memory (register file, doorbells, context tables, rings, AKey tables, CST_BLKs, error log), and
 * a software SDXI function behind the same interface a real device would implement. Importing
 * this package makes it a default backend of `Mover.open()`. See docs/sdxi.md.
 */
import { abi, datamoverError, ErrorCode, HOST_SPACE, OPERATIONS, packageInfo, registerDefaultBackend, type Backend, type Capabilities, type EngineSession, type Operation, type OperationSupport, type ProbeResult, type Ring } from '@datamover/core';
import { CpuPath } from './cpu-path.js';
import type { SdxiFunction } from './function.js';
import { loadNative } from './native.js';
import { EXECUTION_PATHS, planOperations, type ExecutionPath } from './policy.js';
import { contextVector, SdxiDevice } from './producer/device.js';
import { AKEY_SIZE_CODE, INTERRUPT_AKEY, SdxiSession } from './session.js';
import { SoftwareSdxiFunction, type SoftwareFunctionOptions } from './software-function.js';

export type { DmaBuffer, Mmio, SdxiFunction } from './function.js';
export { addonPath, loadNative } from './native.js';
export type { NativeAddon, NativeFunction } from './native.js';
export { EXECUTION_PATHS, planOperations } from './policy.js';
export type { ExecutionPath, OperationPlan, Route } from './policy.js';
export { AdminQueue } from './producer/admin.js';
export { ContextMemory } from './producer/context.js';
export type { AkeyEntry, ContextOptions } from './producer/context.js';
export { contextVector, ERROR_VECTOR, SdxiDevice } from './producer/device.js';
export type { DeviceOptions, FunctionInfo } from './producer/device.js';
export { decodeErrorEntry } from './producer/error-log.js';
export type { ErrorEntry } from './producer/error-log.js';
export { Producer } from './producer/producer.js';
export type { RingLayout } from './producer/producer.js';
export { AKEY_SIZE_CODE, INTERRUPT_AKEY, statusOf } from './session.js';
export { DEVICE_BASE, SoftwareSdxiFunction, softwareDoorbell } from './software-function.js';
export type { DoorbellPort, SoftwareFunctionOptions } from './software-function.js';
export * as bits from './spec/bits.js';
export * as descriptors from './spec/descriptors.js';
export * as registers from './spec/registers.js';
export * as structures from './spec/structures.js';

export interface SdxiOptions extends SoftwareFunctionOptions {
  /** Where operations SDXI 1.0 lacks run (default 'auto'; see policy.ts). */
  executionPath?: ExecutionPath;
  /** Slots of the Mover's ring (a power of two, default 4096); the SDXI ring gets twice as many. */
  ringEntries?: number;
  /** The function to drive, one per session; default a SoftwareSdxiFunction with these options. */
  createFunction?: () => SdxiFunction;
  /** What `createFunction` makes: 'hardware' for a device (default 'software'). */
  kind?: 'hardware' | 'software';
}

const VERSION = packageInfo(new URL('..', import.meta.url)).version;
/** The client context each session runs (context 0 is the admin context). */
const CLIENT_CONTEXT = 1;
const MAX_RING_ENTRIES = 1024 << 6; // the software function's CAP0.max_ds_ring_sz

/** Creates the SDXI backend. */
export function sdxi(options: SdxiOptions = {}): Backend {
  const path = options.executionPath ?? 'auto';
  if (!EXECUTION_PATHS.includes(path)) throw datamoverError(ErrorCode.INVALID_ARGUMENT, `executionPath must be one of ${EXECUTION_PATHS.join(', ')}, got ${String(path)}`);
  const software = options.createFunction === undefined;
  // The software function's vendor groups are known without starting it.
  const plan = (fn?: SdxiFunction) => planOperations(path, fn?.vendorGroups ?? (software ? SoftwareSdxiFunction.vendorGroups : []));
  const needsCpu = (p: ReturnType<typeof plan>) => OPERATIONS.some((op) => p[op].route === 'cpu');
  return {
    name: 'sdxi',
    version: VERSION,
    kind: options.kind ?? 'software',
    ringEntries: options.ringEntries ?? 4096,
    async probe(): Promise<ProbeResult> {
      const p = plan();
      // The addon holds the software function and the CPU path's host engine.
      if (software || needsCpu(p)) {
        const n = loadNative();
        if ('error' in n) return { available: false, reason: software ? n.error : `execution path "${path}" runs some operations on the CPU host engine, which is unavailable: ${n.error}` };
      }
      return { available: true, details: { engine: 'sdxi', spec: 'SDXI 1.0', function: software ? 'software' : (options.kind ?? 'software'), executionPath: path, fallbacks: summary(p) } };
    },
    capabilities: () => capabilities(plan()),
    async open(ring: Ring, onProgress: () => void): Promise<EngineSession> {
      const entries = Math.min(Math.max(1024, 2 * ring.entries), MAX_RING_ENTRIES);
      const fn = options.createFunction?.() ?? new SoftwareSdxiFunction({ arenaBytes: options.arenaBytes ?? (2 << 20) + entries * 96, ...pick(options) });
      let device: SdxiDevice | undefined;
      let cpu: CpuPath | undefined;
      try {
        device = await SdxiDevice.activate(fn);
        const context = device.createContext(CLIENT_CONTEXT, { entries: Math.min(entries, device.info.maxRingEntries), akeySizeCode: AKEY_SIZE_CODE });
        context.setAkey(INTERRUPT_AKEY, { vector: contextVector(CLIENT_CONTEXT) });
        await device.start(context);
        const p = plan(fn);
        let session: SdxiSession | undefined;
        // One failure rule over both paths: the session holds descriptors back, seeing every outcome.
        const failures = new abi.FailureRule();
        // The addon, when built: the CPU path's engine, Mover.alloc's aligned allocator, host addresses.
        const n = loadNative();
        const addon = 'addon' in n ? n.addon : undefined;
        if (needsCpu(p)) {
          if (!addon) throw datamoverError(ErrorCode.BACKEND_UNAVAILABLE, `sdxi: the CPU path needs the sdxi addon: ${'error' in n ? n.error : ''}`);
          cpu = CpuPath.open(addon, ring, failures, (i) => session!.cpuDone(i));
        }
        const allocateHost = addon && ((size: number, alignment: number) => new Uint8Array(addon.allocateAligned(size, alignment)));
        const memoryAddress = addon?.memoryAddress;
        session = new SdxiSession({ device, context, policy: path, plan: p, cpu, failures, allocateHost, memoryAddress }, ring, onProgress);
        return session;
      } catch (e) {
        cpu?.close();
        if (device) device.close();
        else fn.close();
        throw e;
      }
    },
  };
}

/** The fallbacks of a plan in one line: "fill, compare, crc32c → <how> (SDXI 1.0 has none)". */
function summary(plan: ReturnType<typeof planOperations>): string {
  const groups = new Map<string, Operation[]>();
  for (const op of OPERATIONS) {
    if (plan[op].fallback === undefined) continue;
    const how = plan[op].how;
    groups.set(how, [...(groups.get(how) ?? []), op]);
  }
  return [...groups].map(([how, ops]) => `${ops.join(', ')} → ${how} (no SDXI 1.0 descriptor)`).join('; ') || 'none';
}

function pick(o: SdxiOptions): SoftwareFunctionOptions {
  return o.spinMicros === undefined ? {} : { spinMicros: o.spinMicros };
}

/** Every operation the plan routes somewhere, on host memory. */
function capabilities(plan: ReturnType<typeof planOperations>): Capabilities {
  const host = HOST_SPACE.kind;
  const kinds: Record<Operation, readonly [boolean, boolean]> = {
    copy: [true, true],
    compare: [true, true],
    crc32c: [true, false],
    fill: [false, true],
    writeImm: [false, true],
    nop: [false, false],
    copyStrided: [true, true],
    compareStrided: [true, true],
    crc32cStrided: [true, false],
    fillStrided: [false, true],
  };
  const operations: OperationSupport[] = OPERATIONS.filter((op) => plan[op].route !== 'unsupported').map((op) => ({ op, src: kinds[op][0] ? host : null, dst: kinds[op][1] ? host : null }));
  return { operations, maxDescriptorBytes: 2 ** 32, maxRegions: INTERRUPT_AKEY };
}

registerDefaultBackend('sdxi', () => sdxi());
