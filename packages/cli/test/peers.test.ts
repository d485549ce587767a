/** `datamover peers` against a real etcd server (skipped, with the reason printed, where etcd is absent). */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { EtcdDirectory } from '@datamover/directory-etcd';
import { EtcdServer, etcdMissing } from '@datamover/directory-etcd/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const BIN = fileURLToPath(new URL('../dist/bin.js', import.meta.url));
const missing = etcdMissing();
if (missing) console.warn(`skipping datamover peers tests: ${missing}`);

const run = (args: string[]) => spawnSync(process.execPath, [BIN, 'peers', ...args], { encoding: 'utf8', timeout: 60_000 });

describe.skipIf(missing)('datamover peers', () => {
  let etcd: EtcdServer;
  const dirs: EtcdDirectory[] = [];
  beforeAll(async () => {
    etcd = await EtcdServer.start();
    for (const [prefix, agent, port] of [['t1', 'kv-a', 4791], ['t1', 'kv-b', 4792], ['t2', 'other', 4793]] as const) {
      const d = await EtcdDirectory.open({ endpoints: [etcd.endpoint], prefix, agent });
      await d.publish({ host: '10.0.0.1', port, meta: { nodeId: agent } });
      await d.putRegion('cache0', 'tok');
      if (agent === 'kv-a') await d.putRegion('cache1', 'tok');
      dirs.push(d);
    }
  });
  afterAll(async () => {
    for (const d of dirs) await d.close();
    await etcd?.dispose();
  });

  it('lists the agents and regions under one prefix only', () => {
    const r = run(['--endpoints', etcd.endpoint, '--prefix', 't1']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^2 agent\(s\) under prefix t1\n/);
    expect(r.stdout).toMatch(/kv-a\s+10\.0\.0\.1:4791\s+cache0, cache1\s+nodeId=kv-a/);
    expect(r.stdout).toMatch(/kv-b\s+10\.0\.0\.1:4792\s+cache0/);
    expect(r.stdout).not.toContain('other');
    const j = run(['--endpoints', `http://127.0.0.1:9,${etcd.endpoint}`, '--prefix', 't2', '--json']);
    expect(j.status).toBe(0);
    expect(JSON.parse(j.stdout)).toEqual([{ agent: 'other', host: '10.0.0.1', port: 4793, meta: { nodeId: 'other' }, regions: { cache0: 'tok' } }]);
    expect(run(['--endpoints', etcd.endpoint, '--prefix', 'empty']).stdout).toBe('no agents under prefix empty\n');
  });

  it('bad arguments and an unreachable etcd are errors with codes', () => {
    expect(run([]).stderr).toMatch(/^error INVALID_ARGUMENT: peers needs --endpoints/);
    expect(run(['--endpoints', etcd.endpoint, '--prefix', '../x']).stderr).toMatch(/^error INVALID_ARGUMENT: directory: prefix/);
    const r = run(['--endpoints', 'http://127.0.0.1:9']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^error BACKEND_UNAVAILABLE: directory-etcd: connecting/);
  });
});
