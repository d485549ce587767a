export type { AgentAddress, AgentRecord, DirectoryEvent, PeerDirectory } from './directory.js';
export { RegionExchange } from './exchange.js';
export type { ExportEntry, RemoteTransport } from './exchange.js';
export { DirectoryHub, MemoryDirectory, peerGone, regionOf, regionsOf } from './memory.js';
export type { MemoryDirectoryOptions } from './memory.js';
export { checkName, checkPort, checkPrefix, checkRegionNames, checkRegions, checkToken } from './names.js';
export type { RegionEntries } from './names.js';
export { checkAddress, decodeAddress, encodeAddress } from './records.js';
