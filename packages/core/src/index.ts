/**
 * @packageDocumentation
 * Datamover core: the vendor-neutral model — address spaces, registered regions with move
 * semantics, descriptors in the SDXI generic layout, the shared descriptor ring, the Mover that
 * routes work to backends, and the error hierarchy. Core knows no backend.
 */
export * as abi from './abi.js';
export { allOperations, BACKEND_STATUS_BASE, isStrided, OPERATIONS, STRIDED_OPERATIONS } from './backend.js';
export type { StridedOperation } from './backend.js';
export type { Backend, Capabilities, CopyEnd, EngineErrorInfo, EngineSession, MemoryProvider, Operation, OperationSupport, ProbeResult, ProvidedMemory, RegionInfo, RingConsumerStats } from './backend.js';
export { Batch } from './batch.js';
export type { BatchPath, CompareOptions, CompareStridedOptions, CopyOptions, CopyStridedOptions, Crc32cOptions, Crc32cStridedOptions, DescriptorOptions, DurableOption, FillOptions, FillStridedOptions, StridedBlocks, SubmitOptions, WriteImmediateOptions } from './batch.js';
export { BatchResult } from './batch-result.js';
export type { DescriptorStatus, NotRunReason } from './batch-result.js';
export { BackendError, CancelledError, DatamoverError, datamoverError, declaredErrorCodes, declareErrorCodes, ErrorCode, InvalidArgumentError, RegionStateError, TransferError } from './errors.js';
export type { AnyErrorCode, BackendErrorCode, ErrorDetail, ErrorGroup } from './errors.js';
export * from './directory/index.js';
export { DIRECT_ALIGNMENT } from './files.js';
export type { OpenFileOptions } from './files.js';
export type { BackendMemory, FileMemory, HostMemory, Memory, MemoryIdentity } from './memory.js';
export { isFileMemory, isHostMemory } from './memory.js';
export { HostEngineSession } from './host-engine.js';
export { crc32c } from './oracle/crc32c.js';
export { TsEngine } from './oracle/ts-engine.js';
export type { HostEngine, HostEngineAddon, HostEngineInfo, HostEngineOptions } from './host-engine.js';
export { Mover } from './mover.js';
export { INLINE_BOUND_NS } from './inline.js';
export type { InlineCosts, InlineMode, InlineModel, PathDecision } from './inline.js';
export { CALIBRATION_DEADLINE_MS, CONSERVATIVE_COSTS } from './calibration.js';
export { addonLoader, nativeCaller, nativeError, packageInfo, runtimePlatform, threadCallback } from './native-loader.js';
export type { AddonLoad, AddonLoader, AddonSpec, NativeErrorMap } from './native-loader.js';
export type { AllocOptions, BackendReport, Fallback, MoverOptions, MoverStats, RoutingPolicy, WrapKindOptions, WrapOptions } from './mover.js';
export { checkAllocationSize, Region } from './region.js';
export { memoryOverlap } from './overlap.js';
export { defaultBackends, registerDefaultBackend } from './registry.js';
export { Plan } from './plan/plan.js';
export type { IntegrityCheck, PlanEnd, PlanHop } from './plan/plan.js';
export type { PlanOptions, PlanStats, TransferOptions } from './plan/planner.js';
export type { StagingOptions } from './plan/staging.js';
export { TransferResult } from './plan/transfer-result.js';
export type { HopStatus } from './plan/transfer-result.js';
export { Ring } from './ring/ring.js';
export { CORE_SPACE_KINDS, fileSpace, HOST_SPACE } from './spaces.js';
export type { AddressSpace, SpaceKind } from './spaces.js';
