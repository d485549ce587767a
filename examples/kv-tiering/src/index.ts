/**
 * @packageDocumentation
 * The KV-tiering example: a KV-cache block store on Datamover's public API, and the workload
 * that `pnpm example:kv` runs over it.
 */
export { KvStore } from './store.js';
export type { KvStoreConfig, TierChange } from './store.js';
export type { TierName } from './tier.js';
export { toRuns } from './runs.js';
export type { Run, SlotMove } from './runs.js';
export { expectedBlock, fillTokenSlot, extendHash, EMPTY_PREFIX, prefixHashes } from './content.js';
export { DEFAULT_CONFIG, runExample } from './example.js';
export type { ExampleConfig, ExampleSummary } from './example.js';
