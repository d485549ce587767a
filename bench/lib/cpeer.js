/**
 * The C peer (bench/peers/memcpy.c): built at run time with the system's C compiler into
 * bench/.build/, then run as one long-lived child process that owns its own page-aligned pools
 * and answers `run <method> <size> <batch> <iterations>` requests over a pipe. Keeping it alive
 * lets its samples interleave with the JavaScript contenders' instead of running all at once.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, statSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const SOURCE = fileURLToPath(new URL('../peers/memcpy.c', import.meta.url));
const BUILD_DIR = fileURLToPath(new URL('../.build/', import.meta.url));
const EXE = `${BUILD_DIR}memcpy`;

/**
 * Builds bench/.build/memcpy (again only when the source is newer). Returns
 * `{ available: true, path, compiler, flags }` or `{ available: false, reason }`.
 */
export function buildCPeer() {
  const cc = process.env.CC || 'cc';
  const version = spawnSync(cc, ['--version'], { encoding: 'utf8' });
  if (version.error || version.status !== 0) {
    return { available: false, reason: `no C compiler (${cc}: ${version.error?.code ?? `exit ${version.status}`}); set CC or install one (apt-get install gcc)` };
  }
  const compiler = version.stdout.split('\n')[0];
  const flags = ['-O2', '-pthread'];
  if (!isFresh(EXE, SOURCE)) {
    mkdirSync(BUILD_DIR, { recursive: true });
    const r = spawnSync(cc, [...flags, '-o', EXE, SOURCE], { encoding: 'utf8' });
    if (r.status !== 0) return { available: false, reason: `${cc} ${flags.join(' ')} ${SOURCE} failed: ${(r.stderr || r.error?.message || '').trim()}` };
  }
  return { available: true, path: EXE, compiler, flags: flags.join(' ') };
}

function isFresh(target, source) {
  try {
    return statSync(target).mtimeMs >= statSync(source).mtimeMs;
  } catch {
    return false;
  }
}

/** A running C peer with `poolBytes` per pool. `await CPeer.start(...)`, then `run(...)`, then `close()`. */
export class CPeer {
  #child;
  #lines;
  #waiting = [];
  #exited = null;

  constructor(child) {
    this.#child = child;
    this.#lines = createInterface({ input: child.stdout });
    this.#lines.on('line', (line) => this.#waiting.shift()?.resolve(line));
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('exit', (code, signal) => {
      this.#exited = `C peer exited (${signal ?? `status ${code}`})${stderr ? `: ${stderr.trim()}` : ''}`;
      for (const w of this.#waiting.splice(0)) w.reject(new Error(this.#exited));
    });
  }

  /** `dstFile`: map that file's first `poolBytes` as the destination pool (the same memory as a dax region). */
  static async start(build, poolBytes, dstFile) {
    const argv = dstFile === undefined ? [String(poolBytes)] : [String(poolBytes), dstFile];
    const peer = new CPeer(spawn(build.path, argv, { stdio: ['pipe', 'pipe', 'pipe'] }));
    peer.info = await peer.#request('info');
    return peer;
  }

  #request(line) {
    if (this.#exited) return Promise.reject(new Error(this.#exited));
    return new Promise((resolve, reject) => {
      this.#waiting.push({
        resolve: (text) => {
          const r = JSON.parse(text);
          if (r.error) reject(new Error(`C peer: ${r.error}`));
          else resolve(r);
        },
        reject,
      });
      this.#child.stdin.write(`${line}\n`);
    });
  }

  /** Whether this CPU runs `method` (the program checks the CPU flags itself). */
  supports(method) {
    return this.info.methods[method] === true;
  }

  /**
   * Takes `iterations` samples of `reps` batches each (0: the program picks reps so a sample
   * lasts ≥ 2 µs): `{ ns: number[] (per batch), reps, cpu_ns, check, verified }`.
   */
  run(method, size, batch, iterations, reps = 0) {
    return this.#request(`run ${method} ${size} ${batch} ${iterations} ${reps}`);
  }

  close() {
    if (!this.#exited) this.#child.stdin.end('quit\n');
    this.#lines.close();
  }
}
