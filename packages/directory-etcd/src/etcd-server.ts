/**
 * A real, single-member etcd server for tests and benchmarks (`@datamover/directory-etcd/testing`):
 * the `etcd` binary (Debian's etcd-server package, or $ETCD_BIN) started on free loopback ports with
 * its own temporary data folder, and stopped by its PID.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const BIN = process.env['ETCD_BIN'] ?? 'etcd';

/** Why an etcd server cannot be started here, or undefined when it can. */
export function etcdMissing(): string | undefined {
  return spawnSync(BIN, ['--version']).status === 0 ? undefined : `the etcd binary (${BIN}) is not installed: apt-get install etcd-server`;
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as { port: number };
  await new Promise((r) => s.close(r));
  return port;
}

export class EtcdServer {
  #child: ChildProcess | undefined;
  private constructor(
    readonly dataDir: string,
    readonly clientPort: number,
    readonly peerPort: number,
  ) {}

  get endpoint(): string {
    return `http://127.0.0.1:${this.clientPort}`;
  }
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  static async start(): Promise<EtcdServer> {
    const s = new EtcdServer(mkdtempSync(join(tmpdir(), 'dm-etcd-')), await freePort(), await freePort());
    await s.restart();
    return s;
  }

  /** (Re)starts etcd on the same ports; `wipe` deletes its data first (a member that lost its disk). */
  async restart(options: { wipe?: boolean } = {}): Promise<void> {
    await this.stop();
    if (options.wipe) rmSync(join(this.dataDir, 'member'), { recursive: true, force: true });
    const peer = `http://127.0.0.1:${this.peerPort}`;
    const child = spawn(BIN, ['--name', 't', '--data-dir', this.dataDir, '--listen-client-urls', this.endpoint, '--advertise-client-urls', this.endpoint, '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer, '--initial-cluster', `t=${peer}`, '--log-level', 'error'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    child.stderr?.on('data', (b: Buffer) => (log = (log + b.toString()).slice(-4000)));
    this.#child = child;
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`etcd exited with ${child.exitCode}: ${log}`);
      try {
        const r = await fetch(`${this.endpoint}/health`);
        if (r.ok && ((await r.json()) as { health?: string }).health === 'true') return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`etcd did not become healthy in 20 s: ${log}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Stops etcd by its PID (SIGTERM, then SIGKILL after 5 s) and waits for it to exit. */
  async stop(): Promise<void> {
    const child = this.#child;
    this.#child = undefined;
    if (!child || child.exitCode !== null || child.pid === undefined) return;
    const exited = new Promise((r) => child.once('exit', r));
    process.kill(child.pid, 'SIGTERM');
    const t = setTimeout(() => child.pid !== undefined && process.kill(child.pid, 'SIGKILL'), 5000);
    await exited;
    clearTimeout(t);
  }

  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}
