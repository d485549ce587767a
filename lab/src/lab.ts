import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, constants, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus as hostCpus, release } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { Guest, type Accel, type GuestConfig, type GuestResult, type Sink } from './guest.js';
import { ensureHostPackages } from './host.js';
import { ensureInitramfs } from './initramfs.js';
import { ensureKernel, type Kernel } from './kernel.js';
import { LabError, cacheDir, debug, info, setVerbose, shQuote, sleep, which, workRoot } from './util.js';

export interface LabOptions {
  /** argv of the command; a single element is run as a shell command line. */
  readonly command: readonly string[];
  /** A virtio NIC with the Soft-RoCE device rxe0 on it. */
  readonly rdma?: boolean;
  /** 2: two guests joined by a UNIX-socket link, each with rxe0 (implies rdma). */
  readonly peers?: 1 | 2;
  /** An NVDIMM set up as /dev/dax0.0 (devdax). */
  readonly dax?: boolean;
  /** The NVDIMM's backing file (kept); default: a file in the work folder, deleted after the run. */
  readonly daxFile?: string;
  /** A second, CPU-less NUMA node (node 1, 512 MiB). */
  readonly numa?: boolean;
  /** A CXL type-3 persistent-memory device with a region (discovery only on QEMU 7.2). */
  readonly cxl?: boolean;
  readonly accel?: 'auto' | Accel;
  /** Seconds before each guest is ended (default 600); the run then exits 124. */
  readonly timeoutSec?: number;
  /** The command's folder in the guest (default: process.cwd()). */
  readonly cwd?: string;
  readonly env?: Readonly<Record<string, string>>;
  readonly cpus?: number;
  readonly memMiB?: number;
  readonly verbose?: boolean;
  /** Keep the work folder (for debugging). */
  readonly keep?: boolean;
  /** Where the command's output goes (default: process.stdout). */
  readonly sink?: Sink;
}

export interface LabRun {
  /** The command's exit status (the larger of the two with peers); 124 timeout; 125 lab failure. */
  readonly status: number;
  readonly accel: Accel;
  readonly kver: string;
  readonly guests: readonly GuestResult[];
  readonly wallSec: number;
}

interface Prepared {
  readonly kernel: Kernel;
  readonly initrd: string;
  readonly qemu: string;
}

/** Host packages, kernel and initramfs, all cached: the first run fetches, later runs only check. */
export async function prepare(): Promise<Prepared> {
  await ensureHostPackages();
  // LAB_QEMU: another qemu-system-x86_64 (e.g. a newer build whose CXL data path works).
  const qemu = process.env['LAB_QEMU'] || which('qemu-system-x86_64');
  if (!qemu) throw new LabError('qemu-system-x86_64 is not on PATH (apt-get install qemu-system-x86)', undefined, true);
  try {
    accessSync(qemu, constants.X_OK);
  } catch {
    throw new LabError(`${qemu} is not an executable (LAB_QEMU?)`, undefined, true);
  }
  if (!which('timeout')) throw new LabError('timeout (coreutils) is not on PATH', undefined, true);
  const kernel = await ensureKernel();
  const initrd = ensureInitramfs(kernel);
  return { kernel, initrd, qemu };
}

/**
 * TCG unless KVM really works: a usable /dev/kvm is not enough (a software KVM backend cannot run
 * a stock kernel), so the first run boots a trivial guest under KVM and caches the verdict.
 */
async function chooseAccel(requested: 'auto' | Accel, p: Prepared): Promise<Accel> {
  if (requested === 'tcg') return 'tcg';
  let kvmOpen = true;
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
  } catch {
    kvmOpen = false;
  }
  if (requested === 'kvm') {
    if (!kvmOpen) throw new LabError('--accel kvm: /dev/kvm is missing or not writable');
    return 'kvm';
  }
  if (!kvmOpen) return 'tcg';
  const version = spawnSync(p.qemu, ['--version'], { encoding: 'utf8' }).stdout?.split('\n')[0] ?? '?';
  const cpuModel = hostCpus()[0]?.model ?? '?';
  const key = `${release()} | ${p.qemu}: ${version} | ${p.kernel.kver} | ${cpuModel}`;
  const file = join(cacheDir(), 'kvm-probe.json');
  try {
    const c = JSON.parse(readFileSync(file, 'utf8')) as { key: string; kvm: boolean };
    if (c.key === key) return c.kvm ? 'kvm' : 'tcg';
  } catch {
    /* no verdict yet */
  }
  info('probing KVM with a short boot (once; the verdict is cached in lab/.cache/kvm-probe.json)');
  const t0 = Date.now();
  const probe = await runGuests(p, 'kvm', { command: ['true'], timeoutSec: 25, sink: { write: () => {} } }, true);
  const kvm = probe.status === 0;
  const g = probe.guests[0];
  const qemuSaid = g?.qemuStderr.split('\n').find((l) => /error|fail/i.test(l));
  const why = kvm ? 'booted' : `${g?.failure ?? `exit ${probe.status}`}${qemuSaid ? `: ${qemuSaid}` : ''}`;
  info(`KVM ${kvm ? 'works' : 'does not work here'} (${why}, ${((Date.now() - t0) / 1000).toFixed(1)} s): using ${kvm ? 'KVM' : 'TCG'}`);
  mkdirSync(cacheDir(), { recursive: true });
  writeFileSync(file, `${JSON.stringify({ key, kvm, why, at: new Date().toISOString() }, null, 2)}\n`);
  return kvm ? 'kvm' : 'tcg';
}

function jobScript(o: LabOptions, cwd: string): string {
  const lines = [`cd ${shQuote(cwd)} || { echo "lab: no folder ${cwd.replace(/["$`\\]/g, '')} in the guest" >&2; exit 125; }`];
  for (const [k, v] of Object.entries(o.env ?? {})) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw new LabError(`bad environment variable name: ${k}`);
    lines.push(`export ${k}=${shQuote(v)}`);
  }
  const cmd = o.command.length === 1 ? (o.command[0] ?? '') : o.command.map(shQuote).join(' ');
  lines.push(cmd);
  return `${lines.join('\n')}\n`;
}

const live = new Set<Guest>();
let exitHook = false;
function track(g: Guest): void {
  live.add(g);
  if (!exitHook) {
    exitHook = true;
    process.on('exit', () => {
      for (const x of live) x.killNow();
    });
  }
}

async function runGuests(p: Prepared, accel: Accel, o: LabOptions, probe = false): Promise<LabRun> {
  const t0 = Date.now();
  const peers = o.peers === 2;
  const rdma = !!o.rdma || peers;
  const cwd = resolve(o.cwd ?? process.cwd());
  if (!isAbsolute(cwd) || !existsSync(cwd)) throw new LabError(`no folder ${cwd}`);
  mkdirSync(workRoot(), { recursive: true });
  const work = mkdtempSync(join(workRoot(), 'run-'));
  const daxFile = o.dax ? (o.daxFile ? resolve(o.daxFile) : join(work, 'dax.img')) : undefined;
  const sink: Sink = o.sink ?? { write: (s) => void process.stdout.write(s) };
  const job = jobScript(o, cwd);
  const nonce = randomBytes(6).toString('hex');
  const cpus = o.cpus ?? Math.max(1, Math.min(2, hostCpus().length));
  const base = {
    accel,
    kernel: p.kernel,
    initrd: p.initrd,
    qemu: p.qemu,
    work,
    nonce,
    job,
    features: { rdma, dax: !!o.dax, numa: !!o.numa, cxl: !!o.cxl },
    ...(daxFile ? { daxFile } : {}),
    cpus,
    memMiB: o.memMiB ?? 1024,
    timeoutSec: o.timeoutSec ?? 600,
    sink,
  };
  const specs: Array<Pick<GuestConfig, 'role' | 'prefix'> & { self?: string; peer?: string; link?: string }> = peers
    ? [
        { role: 'server', prefix: '[server] ', self: '10.0.0.1', peer: '10.0.0.2', link: 'net.sock' },
        { role: 'client', prefix: '[client] ', self: '10.0.0.2', peer: '10.0.0.1', link: 'net.sock' },
      ]
    : [{ role: 'solo', prefix: '', ...(rdma ? { self: '10.0.2.15' } : {}) }];
  const guests: Guest[] = [];
  const stop = (why?: string): void => guests.forEach((g) => g.kill(why));
  const onSignal = (sig: NodeJS.Signals): void => {
    info(`${sig}: stopping the guest${guests.length > 1 ? 's' : ''}`);
    stop(`stopped by ${sig}`);
    void Promise.all(guests.map((g) => g.result)).then(() => {
      cleanup();
      process.exit(sig === 'SIGINT' ? 130 : 143);
    });
  };
  const cleanup = (): void => {
    if (o.keep) info(`work folder kept: ${work}`);
    else rmSync(work, { recursive: true, force: true });
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    for (const s of specs) {
      const jobFile = join(work, `job.${s.role}.sh`);
      writeFileSync(jobFile, job); // used when the job is too long for the kernel command line
      const g = new Guest({ ...base, ...s } as GuestConfig);
      guests.push(g);
      track(g);
      g.start();
      // A guest that fails before its command starts takes its peer down with it.
      void g.result.then((r) => {
        if (!r.ran) stop(`stopped: the ${r.role} guest failed`);
      });
      if (s.role === 'server') {
        // The client's QEMU connects to the server's socket at start-up: wait for it to listen.
        for (let i = 0; i < 300 && !existsSync(join(work, 'net.sock')) && g.running; i++) await sleep(50);
      }
    }
    const results = await Promise.all(guests.map((g) => g.result));
    if (!probe) {
      for (const r of results) {
        if (!r.failure) continue;
        const who = peers ? `${r.role}: ` : '';
        info(`${who}${r.failure}`);
        if (r.failure.startsWith('stopped')) continue;
        const setupLog = join(work, `setup.${r.role}.log`);
        const setup = existsSync(setupLog) ? readFileSync(setupLog, 'utf8').trim() : '';
        if (setup) info(`${who}setup log:\n${tail(setup, 30)}`);
        if (!r.ran && r.bootLog && !r.failure.startsWith('guest setup failed')) info(`${who}last console lines:\n${tail(r.bootLog, 30)}`);
        if (r.qemuStderr) info(`${who}QEMU said:\n${tail(r.qemuStderr, 20)}`);
      }
    }
    for (const r of results) {
      debug(`${r.role}: status ${r.status}, ${r.wallSec.toFixed(1)} s wall, command started after ${r.bootSec?.toFixed(1) ?? '-'} s, QEMU exit ${r.qemuExit}`);
    }
    const status = Math.max(...results.map((r) => r.status));
    return { status, accel, kver: p.kernel.kver, guests: results, wallSec: (Date.now() - t0) / 1000 };
  } finally {
    stop();
    await Promise.all(guests.map((g) => g.result));
    for (const g of guests) live.delete(g);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    cleanup();
  }
}

function tail(text: string, n: number): string {
  return text
    .split('\n')
    .slice(-n)
    .map((l) => `  | ${l}`)
    .join('\n');
}

/** Boots the guest(s), runs the command, streams its output and returns its status. */
export async function runLab(o: LabOptions): Promise<LabRun> {
  setVerbose(!!o.verbose);
  if (o.command.length === 0) throw new LabError('no command given (pnpm lab [options] -- <command>)');
  if (o.peers !== undefined && o.peers !== 1 && o.peers !== 2) throw new LabError('--peers takes 1 or 2');
  if (o.daxFile && !o.dax) throw new LabError('--dax-file needs --dax');
  const p = await prepare();
  const envAccel = process.env['LAB_ACCEL'];
  const requested = o.accel ?? (envAccel === 'kvm' || envAccel === 'tcg' ? envAccel : 'auto');
  const accel = await chooseAccel(requested, p);
  debug(`accelerator: ${accel}, kernel ${p.kernel.kver}`);
  return runGuests(p, accel, o);
}

export interface LabCheck {
  readonly ok: boolean;
  /** Why the lab cannot run here (when !ok). */
  readonly reason?: string;
  /** True when the reason is that QEMU cannot run on this machine at all (suites skip). */
  readonly unavailable?: boolean;
  readonly accel?: Accel;
  readonly kver?: string;
  readonly seconds: number;
}

/**
 * Gets everything ready (installs, downloads, builds, probes) and boots one trivial guest.
 * Test suites call this once and skip, with the reason, when it says the lab is unavailable.
 */
export async function checkLab(opts: { verbose?: boolean; accel?: 'auto' | Accel } = {}): Promise<LabCheck> {
  const t0 = Date.now();
  const secs = (): number => (Date.now() - t0) / 1000;
  try {
    const out: string[] = [];
    const r = await runLab({
      command: ['echo lab-ok'],
      timeoutSec: 120,
      sink: { write: (s) => void out.push(s) },
      ...(opts.verbose ? { verbose: true } : {}),
      ...(opts.accel ? { accel: opts.accel } : {}),
    });
    const g = r.guests[0];
    if (r.status === 0 && out.join('').includes('lab-ok')) {
      return { ok: true, accel: r.accel, kver: r.kver, seconds: secs() };
    }
    return {
      ok: false,
      unavailable: true,
      reason: `a trivial guest did not boot (${g?.failure ?? `status ${r.status}`})`,
      accel: r.accel,
      kver: r.kver,
      seconds: secs(),
    };
  } catch (e) {
    if (e instanceof LabError) {
      return { ok: false, unavailable: e.unavailable, reason: e.message + (e.detail ? `\n${e.detail}` : ''), seconds: secs() };
    }
    throw e;
  }
}
