/**
 * The engine ABI: descriptor layouts, the ring memory layout and completion blocks. Backend
 * authors who write an engine consume these; applications use the Mover instead.
 */
export * from './descriptor/schema.js';
export * from './descriptor/generated.js';
export * from './ring/layout.js';
export { FailureRule } from './ring/failure-rule.js';
