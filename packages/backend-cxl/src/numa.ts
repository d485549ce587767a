/**
 * NUMA placement of host memory: allocate regions bound to a node (a CPU-less node is how CXL
 * memory in system-ram mode appears), and demote / promote a region's pages between nodes with
 * move_pages. Results are per page count; /proc/self/numa_maps shows the same.
 */
import { checkAllocationSize, datamoverError, ErrorCode, type Mover, type Region } from '@datamover/core';
import { cpulessNodes, discover, type DiscoverOptions, type NumaNode } from './discovery.js';
import { loadNative, native, type MoveReport, type NativeAddon } from './native.js';

export interface MoveResult extends MoveReport {
  /** The node the pages were moved to. */
  readonly node: number;
}

function addon(): NativeAddon {
  const n = loadNative();
  if ('error' in n) throw datamoverError(ErrorCode.BACKEND_UNAVAILABLE, `cxl: ${n.error}`);
  return n.addon;
}

function nodeArg(node: unknown): number {
  if (typeof node !== 'number' || !Number.isSafeInteger(node) || node < 0 || node > 1023) {
    throw datamoverError(ErrorCode.INVALID_ARGUMENT, `node must be a NUMA node number (0..1023), got ${String(node)}`);
  }
  return node;
}

function viewOf(region: Region, what: string): Uint8Array {
  if (region.kind !== 'host') {
    throw datamoverError(ErrorCode.UNSUPPORTED_OPERATION, `${what} moves host memory between NUMA nodes; a ${region.kind} region's pages belong to its device or file`);
  }
  return region.bytes();
}

/**
 * Zeroed host memory of `size` bytes bound to `node` (MPOL_BIND), faulted in there, registered on
 * `mover` as a host region (page-aligned, or `alignment`). Freed when the region is released and
 * the memory is collected.
 */
export function allocOnNode(mover: Mover, size: number, node: number, options: { alignment?: number } = {}): Region {
  checkAllocationSize(size);
  const a = addon();
  const n = nodeArg(node);
  const alignment = options.alignment ?? 4096;
  const buffer = native(() => a.allocate(size, alignment, n));
  return mover.wrap(new Uint8Array(buffer));
}

/** Moves the region's pages to `node`. */
export function movePages(region: Region, node: number): MoveResult {
  const view = viewOf(region, 'movePages');
  const n = nodeArg(node);
  const a = addon();
  return { ...native(() => a.movePages(view, n)), node: n };
}

/** Moves the region's pages to a CPU-less (far, CXL) node: `node`, or the nearest one to this CPU. */
export function demote(region: Region, node?: number, options: DiscoverOptions = {}): MoveResult {
  const view = viewOf(region, 'demote');
  const target = node ?? nearestCpuless(options);
  const a = addon();
  const n = nodeArg(target);
  return { ...native(() => a.movePages(view, n)), node: n };
}

/** Moves the region's pages back to a node with CPUs: `node`, or the node this thread runs on. */
export function promote(region: Region, node?: number): MoveResult {
  const view = viewOf(region, 'promote');
  const a = addon();
  const target = node ?? a.currentNode();
  const n = nodeArg(target < 0 ? 0 : target);
  return { ...native(() => a.movePages(view, n)), node: n };
}

/** Where the region's pages live now: node → pages, plus pages never touched. */
export function pageNodes(region: Region): { nodes: Record<number, number>; absent: number } {
  const view = viewOf(region, 'pageNodes');
  const a = addon();
  const r = native(() => a.pageNodes(view));
  return { nodes: Object.fromEntries(Object.entries(r.nodes).map(([k, v]) => [Number(k), v])), absent: r.absent };
}

/** The nearest CPU-less node to the CPU this thread runs on. */
export function nearestCpuless(options: DiscoverOptions = {}): number {
  const d = discover(options);
  const here = addon().currentNode();
  const far: NumaNode[] = cpulessNodes(d, here < 0 ? 0 : here);
  if (far.length === 0) {
    throw datamoverError(ErrorCode.UNSUPPORTED_OPERATION, `no CPU-less NUMA node to demote to (nodes: ${d.nodes.map((n) => n.node).join(', ') || 'none'}); pass a node`);
  }
  return far[0]!.node;
}
