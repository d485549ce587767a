// What both lab peer scripts share (peer.mjs, packages/cli/lab/plans-peer.mjs): "OK <check>" / "FAIL <check>: why"
// reporting, test patterns, and a tiny newline-JSON side service for tokens and choreography.
import { createConnection, createServer } from 'node:net';

/** `node <script> server|client [serverAddress]` and the shared peerAuth secret (RDMA_LAB_SECRET); exits 2 without one. */
export function peerArgs() {
  const [role, serverHost = process.env.LAB_PEER ?? process.env.LAB_SELF ?? '127.0.0.1'] = process.argv.slice(2);
  const SECRET = process.env.RDMA_LAB_SECRET;
  if (!SECRET) {
    console.log('FAIL setup: RDMA_LAB_SECRET is not set (the shared peerAuth secret)');
    process.exit(2);
  }
  return { role, serverHost, SECRET };
}

/** The reporting helpers of one side (`role` prefixes every line); `failures()` counts FAILs. */
export function peerKit(role) {
  const t0 = Date.now();
  let failures = 0;
  const log = (s) => console.log(`[${role} +${((Date.now() - t0) / 1000).toFixed(1)}s] ${s}`);
  const ok = (name, detail = '') => log(`OK ${name}${detail ? ` (${detail})` : ''}`);
  const bad = (name, why) => {
    failures++;
    log(`FAIL ${name}: ${why}`);
  };
  const check = async (name, f) => {
    try {
      const d = await f();
      ok(name, d ?? '');
    } catch (e) {
      bad(name, `${e?.code ?? ''} ${e?.message ?? e}`);
    }
  };
  const expectCode = async (name, code, f) => {
    try {
      await f();
      bad(name, `expected ${code}, but it succeeded`);
    } catch (e) {
      if (e?.code === code) ok(name, `${code}: ${e.message.slice(0, 140)}`);
      else bad(name, `expected ${code}, got ${e?.code}: ${e?.message}`);
    }
  };
  return { log, ok, bad, check, expectCode, failures: () => failures };
}

export const pattern = (seed, n) => {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
};
export const same = (a, b) => Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0;

// A tiny request/response side service for tokens and test choreography (newline JSON).
export function serve(port, handler) {
  const s = createServer((sock) => {
    let buf = '';
    sock.on('data', async (d) => {
      buf += d;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const m = JSON.parse(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
        const reply = await handler(m);
        sock.write(`${JSON.stringify(reply ?? {})}\n`);
      }
    });
    sock.on('error', () => {});
  });
  s.listen(port, '0.0.0.0');
  return s;
}
export async function ask(host, port, m, tries = 240) {
  for (let i = 0; ; i++) {
    try {
      return await new Promise((resolve, reject) => {
        const c = createConnection(port, host);
        let buf = '';
        c.on('connect', () => c.write(`${JSON.stringify(m)}\n`));
        c.on('data', (d) => {
          buf += d;
          if (buf.includes('\n')) {
            c.end();
            resolve(JSON.parse(buf.slice(0, buf.indexOf('\n'))));
          }
        });
        c.on('error', reject);
      });
    } catch (e) {
      if (i >= tries) throw e;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}
