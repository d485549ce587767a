import { readdirSync } from 'node:fs';
import { Mover } from '@datamover/core';
import { afterEach, describe, expect, it } from 'vitest';
import * as pkg from '../src/index.js';
import { rdmaConformanceKinds, rdmaConformanceTrim, rdmaHostAddress, softwareRdmaOnly } from '../src/index.js';

// The conformance target itself runs in the lab (lab/conformance.test.ts, Soft-RoCE). Here: what
// `pnpm conformance` reads from the package, and the factory's behaviour without an RDMA device.
function hasDevices(): boolean {
  try {
    return readdirSync('/sys/class/infiniband').length > 0;
  } catch {
    return false;
  }
}

describe('rdma conformance target', () => {
  const saved = { host: process.env['DATAMOVER_RDMA_HOST'], lab: process.env['LAB_SELF'] };
  afterEach(() => {
    for (const [k, v] of [['DATAMOVER_RDMA_HOST', saved.host], ['LAB_SELF', saved.lab]] as const) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });

  it('is listed for `pnpm conformance` with its region factory for the remote kind', () => {
    expect(pkg.conformanceTargets).toHaveLength(1);
    const t = pkg.conformanceTargets[0]!;
    expect(t).toMatchObject({ name: 'rdma', export: 'rdma', kinds: 'rdmaConformanceKinds' });
    // The exporter listens beyond loopback, so both Movers get a per-run shared secret (JSON, for the runner's child).
    expect(t.args).toHaveLength(1);
    const secret = (t.args[0] as { peerAuth: { secret: string } }).peerAuth.secret;
    expect(secret).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.parse(JSON.stringify(t.args))).toEqual(t.args);
    expect(() => pkg.rdma(...(t.args as [pkg.RdmaOptions]))).not.toThrow();
    expect(typeof (pkg as Record<string, unknown>)[t.export]).toBe('function');
    expect(typeof (pkg as Record<string, unknown>)[t.kinds]).toBe('function');
    const kinds = rdmaConformanceKinds();
    expect(Object.keys(kinds)).toEqual(['remote']); // every key is taken as a kind by the suite
    expect(kinds.remote.readOnly).toBe(true);
    expect(kinds.remote.maxCheapBytes).toBeLessThan(2 ** 31); // never asked for 2 GiB of pinned memory
  });

  it('trims only where every RDMA device is a software one, with the reason', () => {
    const trim = rdmaConformanceTrim();
    if (!hasDevices()) {
      expect(softwareRdmaOnly()).toBe(false);
      expect(trim).toBeUndefined();
      expect(pkg.conformanceTargets[0]!.trim).toBeUndefined();
    } else if (softwareRdmaOnly()) {
      expect(trim?.reason).toMatch(/Soft-RoCE/);
      expect(trim?.maxSize).toBeLessThan(64 * 1024 * 1024);
    }
  });

  it('finds the address to listen on: DATAMOVER_RDMA_HOST, then LAB_SELF', () => {
    process.env['DATAMOVER_RDMA_HOST'] = '192.0.2.7';
    process.env['LAB_SELF'] = '192.0.2.8';
    expect(rdmaHostAddress()).toBe('192.0.2.7');
    delete process.env['DATAMOVER_RDMA_HOST'];
    expect(rdmaHostAddress()).toBe('192.0.2.8');
    delete process.env['LAB_SELF'];
    if (!hasDevices()) expect(rdmaHostAddress()).toBeUndefined();
  });

  it('without an RDMA device, creating a remote region fails cleanly and holds nothing', async () => {
    if (hasDevices()) return;
    process.env['DATAMOVER_RDMA_HOST'] = '127.0.0.1';
    const { remote } = rdmaConformanceKinds();
    const mover = await Mover.open({ backends: [{ name: 'plain', version: '0', kind: 'software', probe: async () => ({ available: true }), capabilities: () => ({ operations: [], maxDescriptorBytes: 1, maxRegions: 1 }), open: async () => ({ register() {}, deregister() {}, doorbell() {}, hold() {}, close() {} }) }] });
    try {
      await expect(remote.create(mover, 4096, {})).rejects.toMatchObject({ code: 'BACKEND_UNAVAILABLE' });
      expect(remote.liveExports).toBe(0);
      await remote.close();
    } finally {
      await mover.close();
    }
  });
});
