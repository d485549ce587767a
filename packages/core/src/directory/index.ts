export type { AgentAddress, AgentRecord, DirectoryEvent, PeerDirectory } from './directory.js';
export { RegionExchange } from './exchange.js';
export type { RemoteTransport } from './exchange.js';
export { DirectoryHub, MemoryDirectory, peerGone, regionOf } from './memory.js';
export type { MemoryDirectoryOptions } from './memory.js';
export { checkName, checkPort, checkPrefix, checkToken } from './names.js';
export { checkAddress, decodeAddress, encodeAddress } from './records.js';
