/**
 * A dax file truncated under its mapping (by another process, or here by the test) raises SIGBUS
 * on the next access to the missing pages. The cxl engine catches it on its own thread and on the
 * stripe helpers (packages/core/native/fault_guard.h): the descriptor fails IO_ERROR, so
 * does every later one naming that mapping, and the process lives on. Each scenario runs in a
 * child process, the built package as an application imports it, so that a SIGBUS the engine
 * does not catch kills the child and fails the test instead of the test runner.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'dm-cxl-truncated-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs `body` (an ES module's top level with `m`, `file`, `outcome`, `truncateSync` in scope) in a child. */
function child(body: string, env: Record<string, string> = {}) {
  const script = `
    import { Mover } from '@datamover/core';
    import { soft } from '@datamover/backend-soft';
    import { cxl, openDax } from '@datamover/backend-cxl';
    import { readFileSync, truncateSync, writeFileSync } from 'node:fs';
    import { join } from 'node:path';
    let n = 0;
    const file = (size, byte = 0) => {
      const p = join(${JSON.stringify(dir)}, 'f' + n++ + '.bin');
      writeFileSync(p, Buffer.alloc(size, byte));
      return p;
    };
    const outcome = (p) => p.then(() => 'ok', (e) => e.code + (e.detail?.errno ? ':' + e.detail.errno : ''));
    const m = await Mover.open({ backends: [soft(), cxl({ ntThreshold: 0 })] });
    const results = {};
    ${body}
    await m.close();
    process.stdout.write(JSON.stringify(results));`;
  const cwd = fileURLToPath(new URL('..', import.meta.url));
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd,
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, ...env },
  });
  return { status: r.status, signal: r.signal, stderr: r.stderr, results: r.status === 0 ? (JSON.parse(r.stdout) as Record<string, unknown>) : r.stdout };
}

const EFAULT = 'IO_ERROR:14';

describe('a dax file truncated under its mapping', () => {
  it('fails the descriptor that touches a missing page with IO_ERROR, then every later one on that mapping; others run on; close() works', () => {
    const r = child(`
      const path = file(64 << 10, 0x5a);
      const d = await openDax(m, path);
      const host = m.wrap(new Uint8Array(64 << 10));
      results.before = await outcome(m.copy(host, d, { length: 16 << 10 }));
      truncateSync(path, 16 << 10);
      results.inside = await outcome(m.copy(host, d, { length: 16 << 10 }));   // pages still there
      results.past = await outcome(m.copy(host, d));                              // SIGBUS at 16 KiB
      results.afterwards = await outcome(m.copy(host, d, { length: 16 << 10 })); // the mapping is faulted
      const healthy = file(64 << 10);
      const h = await openDax(m, healthy);
      const src = new Uint8Array(64 << 10).fill(0xc3);
      results.healthy = await outcome(m.copy(h, m.wrap(src)));
      results.healthyBytes = readFileSync(healthy).every((b) => b === 0xc3);
      results.hostToHost = await outcome(m.copy(host, m.wrap(src)));
      await d.release();
    `);
    expect(r).toEqual({
      status: 0,
      signal: null,
      stderr: '',
      results: { before: 'ok', inside: 'ok', past: EFAULT, afterwards: EFAULT, healthy: 'ok', healthyBytes: true, hostToHost: 'ok' },
    });
  });

  it('answers IO_ERROR for every operation kind, reading or writing, durable or not', () => {
    const r = child(`
      const ops = {
        copyFrom: (d) => m.copy(m.wrap(new Uint8Array(8192)), d),
        copyTo: (d) => m.copy(d, m.wrap(new Uint8Array(8192).fill(1))),
        durableCopy: (d) => m.copy(d, m.wrap(new Uint8Array(8192).fill(1)), { durable: true }),
        durableStrided: (d) => m.batch().copyStrided(d, m.wrap(new Uint8Array(8192).fill(1)), { count: 2, blockBytes: 4096, durable: true }).submit().catch((e) => { throw e.result.error(0); }),
        daxToDax: (d) => openDax(m, file(8192)).then((e) => m.copy(e, d)),
        fill: (d) => m.fill(d, 7),
        compare: (d) => m.compare(d, m.wrap(new Uint8Array(8192).fill(3))), // equal up to the missing page
        crc32c: (d) => m.crc32c(d),
        writeImmediate: (d) => m.writeImmediate(d, 0x1234n, { offset: 4096 + 8, width: 8 }),
      };
      for (const [name, op] of Object.entries(ops)) {
        const path = file(8192, 3);
        const d = await openDax(m, path);
        truncateSync(path, 4096);
        results[name] = await outcome(op(d));
      }
    `);
    expect(r.signal).toBeNull();
    expect(r.stderr).toBe('');
    const kinds = ['copyFrom', 'copyTo', 'durableCopy', 'durableStrided', 'daxToDax', 'fill', 'compare', 'crc32c', 'writeImmediate'];
    expect(r.results).toEqual(Object.fromEntries(kinds.map((k) => [k, EFAULT])));
  });

  it('catches the fault on the stripe helper threads of a large copy and fill, and a healthy striped copy still runs', () => {
    // 16 MiB is striped over the engine thread and helpers (DATAMOVER_COPY_THREADS, ntThreshold 0);
    // the first 12 MiB are there, so the helpers are at work when the missing pages come up.
    const r = child(
      `
      const size = 16 << 20;
      const src = m.alloc(size);
      src.bytes().fill(0x42);
      results.rounds = [];
      for (let k = 0; k < 6; k++) {
        const path = file(size);
        const d = await openDax(m, path);
        truncateSync(path, 12 << 20);
        results.rounds.push(await outcome(k % 2 ? m.fill(d, 9) : m.copy(d, src)));
        await d.release();
      }
      const d = await openDax(m, file(size));
      results.healthy = await outcome(m.copy(d, src));
      results.same = await m.compare(d, src);
    `,
      { DATAMOVER_COPY_THREADS: '4' },
    );
    expect(r).toEqual({ status: 0, signal: null, stderr: '', results: { rounds: Array(6).fill(EFAULT), healthy: 'ok', same: { equal: true } } });
  });

  it('survives another process truncating the file while a copy runs', () => {
    // Whether the truncation lands inside the 64 MiB copy or after it is up to the scheduler; the
    // copy either finishes or fails IO_ERROR, and the next one over the whole range must fail.
    const r = child(`
      const { spawnSync } = await import('node:child_process');
      const size = 64 << 20;
      const src = m.alloc(size);
      src.bytes().fill(0x24);
      results.during = [];
      results.after = [];
      for (let k = 0; k < 3; k++) {
        const path = file(size);
        const d = await openDax(m, path);
        const copy = outcome(m.copy(d, src));
        const t = spawnSync('truncate', ['-s', String(4 << 20), path]);
        if (t.status !== 0) throw new Error('truncate: ' + t.stderr);
        results.during.push(await copy);
        results.after.push(await outcome(m.copy(src, d)));
        await d.release();
      }
    `);
    expect(r.signal).toBeNull();
    expect(r.stderr).toBe('');
    const { during, after } = r.results as { during: string[]; after: string[] };
    for (const o of during) expect(['ok', EFAULT]).toContain(o);
    expect(after).toEqual([EFAULT, EFAULT, EFAULT]);
  });

  it('fails only the faulting descriptor of a batch', () => {
    const r = child(`
      const path = file(8192);
      const d = await openDax(m, path);
      const ok = await openDax(m, file(8192));
      truncateSync(path, 0);
      const res = await m.batch().fill(ok, 1).copy(m.wrap(new Uint8Array(8192)), d).fill(ok, 2, { offset: 1, length: 1 }).submit().catch((e) => e.result);
      results.statuses = [0, 1, 2].map((i) => res.status(i));
      results.error = res.error(1)?.code;
    `);
    expect(r).toEqual({ status: 0, signal: null, stderr: '', results: { statuses: ['done', 'failed', 'done'], error: 'IO_ERROR' } });
  });

  it('passes a SIGBUS it does not own to the handler installed before it: the process still dies of it', () => {
    // The handler is installed once a dax region is registered; a SIGBUS sent by kill() is no fault
    // on a watched mapping, so it goes to the previous handler: the default action, or under
    // AddressSanitizer (LD_PRELOAD, .ci/sanitized) ASan's own, which reports it and exits 1.
    const r = child(`
      await openDax(m, file(4096));
      process.kill(process.pid, 'SIGBUS');
      await new Promise((resolve) => setTimeout(resolve, 1000));
    `);
    if ((process.env['LD_PRELOAD'] ?? '').includes('libasan')) {
      expect({ status: r.status, report: /AddressSanitizer: BUS/.test(r.stderr) }).toEqual({ status: 1, report: true });
    } else {
      expect(r.signal).toBe('SIGBUS');
    }
  });
});
