import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DatamoverError, DirectoryHub, ErrorCode, MemoryDirectory, TransferError, type DirectoryEvent } from '../src/index.js';

async function code(f: () => unknown): Promise<string> {
  try {
    await f();
  } catch (e) {
    expect(e).toBeInstanceOf(DatamoverError);
    return (e as DatamoverError).code;
  }
  return 'no error';
}

describe('MemoryDirectory (the default, needing nothing)', () => {
  it('agents in one hub find each other, watch, and see PEER_GONE after withdraw', async () => {
    const hub = new DirectoryHub();
    const a = new MemoryDirectory({ agent: 'a', hub });
    const b = new MemoryDirectory({ agent: 'b', hub });
    const seen: DirectoryEvent[] = [];
    const stop = b.watch((e) => seen.push(e));
    await a.publish({ host: '127.0.0.1', port: 1 });
    await a.putRegion('r', 'tok');
    expect(await b.lookupRegion('a', 'r')).toBe('tok');
    expect(await code(() => b.lookupRegion('a', 'none'))).toBe(ErrorCode.ACCESS_REVOKED);
    await a.deleteRegion('r');
    expect(await code(() => b.lookupRegion('a', 'r'))).toBe(ErrorCode.ACCESS_REVOKED);
    await a.withdraw();
    const gone = await code(() => b.lookup('a'));
    expect(gone).toBe(ErrorCode.PEER_GONE);
    await b.lookup('a').catch((e: unknown) => expect(e).toBeInstanceOf(TransferError));
    expect(seen.map((e) => e.type)).toEqual(['agent', 'region', 'region-gone', 'agent-gone']);
    stop();
    await a.publish({ host: '127.0.0.1', port: 1 });
    expect(seen).toHaveLength(4);
    // Another hub is another world.
    expect(await code(() => new MemoryDirectory({ agent: 'c', hub: new DirectoryHub() }).lookup('a'))).toBe(ErrorCode.PEER_GONE);
  });

  it('two processes exchange one blob each through the same interface', async () => {
    const blob = execFileSync(process.execPath, [fileURLToPath(new URL('fixtures/blob-agent.mjs', import.meta.url))], { encoding: 'utf8' });
    const me = new MemoryDirectory({ agent: 'me', hub: new DirectoryHub() });
    const r = me.addBlob(blob);
    expect(r).toMatchObject({ agent: 'other', host: '127.0.0.1', port: 4791, regions: { kv: 'dG9rZW4' } });
    expect(await me.lookupRegion('other', 'kv')).toBe('dG9rZW4');
    me.forget('other');
    expect(await code(() => me.lookupRegion('other', 'kv'))).toBe(ErrorCode.PEER_GONE);
  });

  it('bad names are INVALID_ARGUMENT, malformed blobs and tokens INVALID_TOKEN', async () => {
    const hub = new DirectoryHub();
    for (const agent of ['', '../x', 'a/b', '-x', 'x'.repeat(129), 7]) expect(await code(() => new MemoryDirectory({ agent: agent as string, hub }))).toBe(ErrorCode.INVALID_ARGUMENT);
    const d = new MemoryDirectory({ agent: 'd', hub });
    expect(await code(() => d.putRegion('r', 'tok'))).toBe(ErrorCode.INVALID_ARGUMENT); // before publish()
    await d.publish({ host: '::1', port: 2 });
    expect(await code(() => d.putRegion('r/../s', 'tok'))).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(await code(() => d.putRegion('r', 'a b'))).toBe(ErrorCode.INVALID_TOKEN);
    expect(await code(() => d.publish({ host: '::1', port: -1 }))).toBe(ErrorCode.INVALID_ARGUMENT);
    const enc = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    for (const blob of [42, '!!', enc([1]), enc({ v: 2 }), enc({ v: 1, agent: 'z', address: { host: 'h', port: 1 }, regions: { r: '' } }), enc({ v: 1, agent: 'z', address: { host: 'h', port: 1, meta: { a: 1 } }, regions: {} })]) {
      expect(await code(() => d.addBlob(blob as string))).toBe(ErrorCode.INVALID_TOKEN);
    }
    expect(await code(() => d.addBlob(enc({ v: 1, agent: 'z/..', address: { host: 'h', port: 1 }, regions: {} })))).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(await code(() => d.addBlob(enc({ v: 1, agent: 'z', address: { host: 'h', port: 1 }, regions: { '../r': 'tok' } })))).toBe(ErrorCode.INVALID_ARGUMENT);
    expect((await d.list()).map((r) => r.agent)).toEqual(['d']);
  });

  it('putRegions publishes a batch checked whole; lookupRegions resolves many in one read', async () => {
    const hub = new DirectoryHub();
    const a = new MemoryDirectory({ agent: 'a', hub });
    const b = new MemoryDirectory({ agent: 'b', hub });
    const seen: DirectoryEvent[] = [];
    b.watch((e) => seen.push(e));
    await a.publish({ host: '127.0.0.1', port: 1 });
    const batch = Array.from({ length: 1000 }, (_, i) => [`r${i}`, `tok${i}`] as const);
    await a.putRegions(batch);
    expect(seen.filter((e) => e.type === 'region')).toHaveLength(1000);
    expect(await b.lookupRegions('a', ['r999', 'r0'])).toEqual(['tok999', 'tok0']);
    expect(await code(() => b.lookupRegions('a', ['r0', 'r1000']))).toBe(ErrorCode.ACCESS_REVOKED);
    expect(await code(() => b.lookupRegions('a', ['r0', '..']))).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(await code(() => b.lookupRegions('nobody', ['r0']))).toBe(ErrorCode.PEER_GONE);
    // A bad entry anywhere: nothing of the batch is published.
    for (const bad of [[['x0', 'tok'], ['x/1', 'tok']], [['x0', 'tok'], ['x1', '']], [['x0', 'tok'], ['x0', 'tok']], [['x0']], 'x0']) {
      expect(await code(() => a.putRegions(bad as never))).toMatch(/^(INVALID_ARGUMENT|INVALID_TOKEN)$/);
    }
    expect(Object.keys((await b.lookup('a')).regions)).toHaveLength(1000);
    // Names are own keys only: nothing is found on Object.prototype.
    expect(await code(() => b.lookupRegion('a', 'constructor'))).toBe(ErrorCode.ACCESS_REVOKED);
  });
});
