/**
 * @packageDocumentation
 * The fuzzers (`@datamover/conformance/fuzz`): `fuzzPublic` drives a backend through the public
 * API only (Mover, regions, batches) with valid and invalid calls against a JS model;
 * `fuzzRing` feeds random 64-byte records to an engine's ring against the TypeScript oracle.
 * Both return their figures; the backend's test asserts them. `batchOps` and `addBatchOp` make
 * random batches for a property test against the oracle, `outcomeDifference` compares two runs.
 */
export { fuzzRing, ringFuzzProblems } from './ring.js';
export { RingMemory } from './ring-memory.js';
export type { Carver } from './ring-memory.js';
export type { OpenSession, RecordView, RingBacking, RingFuzzFigures, RingFuzzTarget, RingRegion } from './ring.js';
export { fuzzPublic, PUBLIC_SURFACE, publicFuzzProblems } from './public.js';
export type { PublicFuzzFigures, PublicFuzzOptions } from './public.js';
export { addBatchOp, BATCH_REGION_SIZES, batchOps, outcomeDifference } from './batches.js';
export type { BatchOp, BatchOutcome } from './batches.js';
