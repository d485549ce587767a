export * as abi from './abi.js';
