/**
 * What the published conformance suite (@datamover/conformance) needs to test rdma: a region
 * factory for the 'remote' kind, which the suite cannot create through the public API alone.
 *
 * Remote regions are made by looping back over the RDMA device inside one process: a second Mover
 * (the exporter, opened once, listening on the device's IPv4 address) exports host memory of the
 * requested size — read-write, or read-only when asked — and the Mover under test imports the
 * token (it first connects the Mover under test to the exporter itself, so no allowHosts is needed;
 * both authenticate with the `peerAuth` secret the target's args carry). The fixture's out-of-band `read` / `write` / `guards` use the exporter's own JS view of
 * that memory, so the suite seeds sources and checks destinations without going through the
 * backend under test; the guard bands are bytes of the same allocation just outside the export
 * (outside its memory registration), so a transfer that strays past the range is caught there.
 *
 * `pnpm conformance` finds this through the package's `conformanceTargets` export; a vitest file
 * passes `kinds: rdmaConformanceKinds()` to `runConformance`. No dependency on the suite: the
 * shapes below are the suite's `KindProvider` / `Fixture`, structurally.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { Mover, type Region } from '@datamover/core';
import { rdma, type RdmaOptions } from './index.js';
import { decodeToken } from './token.js';

/** The suite's FixtureOptions. */
export interface RemoteFixtureOptions {
  readOnly?: boolean;
  guard?: number;
  aligned?: boolean;
  contents?: Uint8Array;
  shared?: boolean;
}

/** The suite's Fixture. */
export interface RemoteFixture {
  readonly region: Region;
  readonly size: number;
  read(offset?: number, length?: number): Promise<Uint8Array>;
  write(data: Uint8Array, offset?: number): Promise<void>;
  guards?(): Promise<{ before: Uint8Array; after: Uint8Array }>;
  dispose(): Promise<void>;
}

/** The suite's KindProvider, plus `close()` for the exporter Mover. */
export interface RemoteKindProvider {
  create(mover: Mover, size: number, options: RemoteFixtureOptions): Promise<RemoteFixture>;
  readonly maxCheapBytes: number;
  readonly readOnly: boolean;
  /** Exports made and not yet disposed (a leak check for tests). */
  readonly liveExports: number;
  /** Closes the exporter Mover (the next `create` opens a new one). */
  close(): Promise<void>;
}

const SYS = '/sys/class/infiniband';
const PAGE = 4096;

/** The RDMA devices of this machine (sysfs), or [] where there are none. */
function devices(): string[] {
  try {
    return readdirSync(SYS);
  } catch {
    return [];
  }
}

/**
 * Whether every RDMA device here is a software one (Soft-RoCE / rxe, siw): an IB device with a
 * netdev `parent` and no bus device behind it.
 */
export function softwareRdmaOnly(): boolean {
  const devs = devices();
  return devs.length > 0 && devs.every((d) => !existsSync(join(SYS, d, 'device')));
}

/**
 * The IPv4 address peers reach this node's RDMA device at: `DATAMOVER_RDMA_HOST`, else the lab's
 * `LAB_SELF`, else the first IPv4 address of a netdev an RDMA port is bound to (sysfs
 * `ports/N/gid_attrs/ndevs`), else undefined.
 */
export function rdmaHostAddress(device?: string): string | undefined {
  const env = process.env['DATAMOVER_RDMA_HOST'] ?? process.env['LAB_SELF'];
  if (env) return env;
  const nets = networkInterfaces();
  for (const dev of device ? [device] : devices()) {
    let ports: string[] = [];
    try {
      ports = readdirSync(join(SYS, dev, 'ports'));
    } catch {
      continue;
    }
    for (const port of ports) {
      const dir = join(SYS, dev, 'ports', port, 'gid_attrs', 'ndevs');
      let names: string[] = [];
      try {
        names = readdirSync(dir).map((i) => {
          try {
            return readFileSync(join(dir, i), 'utf8').trim();
          } catch {
            return '';
          }
        });
      } catch {
        continue;
      }
      for (const nd of new Set(names)) {
        const a = nets[nd]?.find((x) => x.family === 'IPv4' && !x.internal);
        if (a) return a.address;
      }
    }
  }
  return undefined;
}

/** Deterministic noise for guard bands (xorshift32). */
function noise(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 0x9e3779b9;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

function releaseQuietly(r: Region | undefined): Promise<void> {
  return r?.live ? r.release().catch(() => undefined) : Promise.resolve();
}

/**
 * Region factories for the kinds only rdma creates: `{ remote }`. `options` are the backend's
 * (the exporter uses the same device); `host` overrides the address the exporter listens on and
 * advertises (default: rdmaHostAddress()).
 */
export function rdmaConformanceKinds(options: RdmaOptions & { host?: string } = {}): { remote: RemoteKindProvider } {
  const { host: hostOption, ...backendOptions } = options;
  let exporter: Promise<{ ex: Mover; at: { host: string; port: number } }> | undefined;
  let live = 0;
  let serial = 0;

  const open = async (): Promise<{ ex: Mover; at: { host: string; port: number } }> => {
    const host = hostOption ?? rdmaHostAddress(backendOptions.device);
    if (!host) throw new Error('rdma conformance: cannot tell which IPv4 address reaches the RDMA device; set DATAMOVER_RDMA_HOST');
    const m = await Mover.open({ backends: [rdma(backendOptions)] });
    try {
      return { ex: m, at: await rdma.listen(m, { host, port: 0, advertise: host }) };
    } catch (e) {
      await m.close();
      throw e;
    }
  };
  const exporterMover = (): Promise<{ ex: Mover; at: { host: string; port: number } }> => {
    exporter ??= open().catch((e: unknown) => {
      exporter = undefined;
      throw e;
    });
    return exporter;
  };

  const provider: RemoteKindProvider = {
    // Exported memory is real, pinned host memory: regions past maxDescriptorBytes are not cheap.
    maxCheapBytes: 256 * 1024 * 1024,
    readOnly: true,
    get liveExports() {
      return live;
    },
    async create(mover, size, fo) {
      const { ex, at } = await exporterMover();
      const guard = fo.guard ?? 0;
      const shared = fo.shared ?? (serial++ & 1) === 0;
      // Aligned: one spare page, and the export starts at the first page boundary past the guard.
      const spare = fo.aligned ? PAGE + Math.ceil(guard / PAGE) * PAGE : guard;
      const total = spare + size + guard;
      const backing = new Uint8Array(shared ? new SharedArrayBuffer(total) : new ArrayBuffer(total));
      const whole = ex.wrap(backing);
      let start = guard;
      let token: string | undefined;
      let region: Region | undefined;
      try {
        if (fo.aligned) {
          // The exporter's NIC address of the allocation tells where its pages begin.
          const probe = rdma.export(ex, whole, { access: 'read-only' });
          const address = decodeToken(probe).address;
          rdma.revoke(ex, probe, { notify: false });
          start = Number((BigInt(PAGE) - (address % BigInt(PAGE))) % BigInt(PAGE)) + Math.ceil(guard / PAGE) * PAGE;
        }
        if (start > 0) backing.set(noise(start, 0x6a09e667 ^ size), 0);
        if (start + size < total) backing.set(noise(total - start - size, 0xbb67ae85 ^ size), start + size);
        const view = backing.subarray(start, start + size);
        if (fo.contents) view.set(fo.contents);
        const slice = whole.slice(start, size);
        try {
          token = rdma.export(ex, slice, { access: fo.readOnly ? 'read-only' : 'read-write' });
        } finally {
          await slice.release();
        }
        live++;
        if (!rdma.peer(mover, rdma.nodeId(ex))) await rdma.connect(mover, at);
        region = await rdma.import(mover, token);
        const exported = token;
        const imported = region;
        let disposed = false;
        const fixture: RemoteFixture = {
          region: imported,
          size,
          async read(offset = 0, length = size - offset) {
            return view.slice(offset, offset + length);
          },
          async write(data, offset = 0) {
            view.set(data, offset);
          },
          async dispose() {
            if (disposed) return;
            disposed = true;
            await releaseQuietly(imported);
            try {
              rdma.revoke(ex, exported);
            } catch {
              // the exporter was closed: its registrations went with it
            }
            live--;
            await releaseQuietly(whole);
          },
        };
        if (guard > 0) {
          fixture.guards = async () => ({ before: backing.slice(start - guard, start), after: backing.slice(start + size, start + size + guard) });
        }
        return fixture;
      } catch (e) {
        await releaseQuietly(region);
        if (token) {
          try {
            rdma.revoke(ex, token, { notify: false });
          } catch {
            // already gone
          }
          live--;
        }
        await releaseQuietly(whole);
        throw e;
      }
    },
    async close() {
      const m = exporter;
      exporter = undefined;
      if (m) await (await m.catch(() => undefined))?.ex.close();
    },
  };
  return { remote: provider };
}

/**
 * How the suite is scaled down where the only RDMA devices are software ones (the lab's Soft-RoCE
 * under TCG moves 15–30 MB/s and under 10,000 small work requests per second); undefined on hardware.
 */
export function rdmaConformanceTrim(): { reason: string; maxSize: number; loadDescriptors: number; cycles: number } | undefined {
  if (process.env['DATAMOVER_RDMA_CONFORMANCE_FULL'] === '1' || !softwareRdmaOnly()) return undefined;
  return {
    reason: 'Soft-RoCE (rxe, software RDMA) moves only ~15–30 MB/s and under 10,000 small work requests/s in the TCG lab guest: content sizes up to 1 MiB + 3 (the 64 MiB size is not run), 50,000 load descriptors, 1,000 register/deregister cycles (DATAMOVER_RDMA_CONFORMANCE_FULL=1 runs everything)',
    maxSize: 1024 * 1024 + 3,
    loadDescriptors: 50_000,
    cycles: 1_000,
  };
}
