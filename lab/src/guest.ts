import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Kernel } from './kernel.js';
import { LAB_DIR, debug, isVerbose, shQuote } from './util.js';

export type Role = 'solo' | 'server' | 'client';
export type Accel = 'kvm' | 'tcg';

/** Where a guest's console output goes. */
export interface Sink {
  write(text: string): void;
}

export interface GuestConfig {
  readonly role: Role;
  readonly accel: Accel;
  readonly kernel: Kernel;
  readonly initrd: string;
  readonly qemu: string;
  /** The run's work folder: QEMU's cwd, the guest's writable share, mounted at this same path. */
  readonly work: string;
  readonly nonce: string;
  /** The shell script the guest runs (cd, exports, the command). */
  readonly job: string;
  readonly features: { rdma: boolean; dax: boolean; numa: boolean; cxl: boolean };
  readonly daxFile?: string;
  readonly self?: string;
  readonly peer?: string;
  /** UNIX socket (relative to work) joining two guests; the server listens. */
  readonly link?: string;
  readonly cpus: number;
  readonly memMiB: number;
  readonly timeoutSec: number;
  /** Prefix for each output line (peers mode). */
  readonly prefix: string;
  readonly sink: Sink;
}

export interface GuestResult {
  readonly role: Role;
  /** The command's exit status, or 124 (timeout) / 125 (the lab failed) when it has none. */
  readonly status: number;
  /** True when the command ran and its status came back. */
  readonly ran: boolean;
  readonly timedOut: boolean;
  /** Why the guest failed, when it did (setup failed, crashed, QEMU refused to start). */
  readonly failure?: string;
  readonly qemuExit: number | null;
  readonly bootLog: string;
  readonly qemuStderr: string;
  readonly wallSec: number;
  /** Guest-side seconds from QEMU start to the job's start (boot + driver setup). */
  readonly bootSec?: number;
}

/** QEMU option values escape commas by doubling them. */
const q = (s: string): string => s.replace(/,/g, ',,');
const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');

/** Linux's x86 COMMAND_LINE_SIZE is 2048; past this the job goes through the share instead. */
const MAX_CMDLINE = 1900;

export function kernelCmdline(c: GuestConfig, jobInline: boolean): string {
  const feats = Object.entries(c.features)
    .filter(([, on]) => on)
    .map(([k]) => k)
    .join(',');
  const parts = [
    'console=ttyS0',
    isVerbose() ? 'loglevel=7' : 'quiet',
    'panic=-1',
    'mitigations=off',
    'rdinit=/init',
    `lab_nonce=${c.nonce}`,
    `lab_role=${c.role}`,
    `lab_stage2=${b64(join(LAB_DIR, 'guest', 'stage2.sh'))}`,
    `lab_mods=${b64(c.kernel.modulesDir)}`,
    `lab_share=${b64(c.work)}`,
    `lab_features=${feats || '-'}`,
    `lab_verbose=${isVerbose() ? 1 : 0}`,
  ];
  if (c.self) parts.push(`lab_self=${c.self}`);
  if (c.peer) parts.push(`lab_peer=${c.peer}`);
  parts.push(`lab_job=${jobInline ? b64(c.job) : '@'}`);
  return parts.join(' ');
}

export function qemuArgs(c: GuestConfig, cmdline: string): string[] {
  const f = c.features;
  const a: string[] = ['-name', `lab-${c.role}`, '-accel', c.accel, '-cpu', c.accel === 'kvm' ? 'host' : 'max'];
  a.push('-smp', String(c.cpus));
  a.push('-M', `q35${f.dax ? ',nvdimm=on' : ''}${f.cxl ? ',cxl=on' : ''}`);
  const hotplug = f.dax || f.numa;
  const numaMiB = 512;
  const total = c.memMiB + (f.numa ? numaMiB : 0);
  a.push('-m', hotplug ? `${total}M,slots=4,maxmem=8G` : `${total}M`);
  if (f.numa) {
    a.push('-object', `memory-backend-ram,id=m0,size=${c.memMiB}M`, '-object', `memory-backend-ram,id=m1,size=${numaMiB}M`);
    a.push('-numa', `node,nodeid=0,cpus=0-${c.cpus - 1},memdev=m0`, '-numa', 'node,nodeid=1,memdev=m1');
  }
  a.push('-display', 'none', '-no-reboot', '-nodefaults', '-serial', 'stdio');
  a.push('-kernel', c.kernel.image, '-initrd', c.initrd, '-append', cmdline);
  // The host's root, read-only (the guest lays a tmpfs overlay on it), and the run's work folder.
  a.push('-fsdev', 'local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap');
  a.push('-device', 'virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot');
  a.push('-fsdev', `local,id=labshare,path=${q(c.work)},security_model=none,multidevs=remap`);
  a.push('-device', 'virtio-9p-pci,fsdev=labshare,mount_tag=labshare');
  a.push('-device', 'isa-debug-exit,iobase=0xf4,iosize=0x04');
  a.push('-pidfile', `qemu.${c.role}.pid`);
  if (c.link) {
    const server = c.role === 'server';
    a.push('-netdev', `stream,id=n0,server=${server ? 'on' : 'off'},addr.type=unix,addr.path=${q(c.link)}`);
    a.push('-device', `virtio-net-pci,netdev=n0,mac=52:54:00:00:00:0${server ? 1 : 2}`);
  } else if (f.rdma) {
    // A NIC for rxe to sit on; restrict=on: no way out of the guest.
    a.push('-netdev', 'user,id=n0,restrict=on', '-device', 'virtio-net-pci,netdev=n0,mac=52:54:00:00:00:0f');
  } else {
    a.push('-nic', 'none');
  }
  if (f.dax && c.daxFile) {
    a.push('-object', `memory-backend-file,id=nv0,share=on,mem-path=${q(c.daxFile)},size=512M`);
    a.push('-device', 'nvdimm,id=nvdimm0,memdev=nv0,label-size=128K');
  }
  if (f.cxl) {
    a.push('-object', `memory-backend-file,id=cxl-mem0,share=on,mem-path=cxl-mem0.${c.role}.raw,size=256M`);
    a.push('-object', `memory-backend-file,id=cxl-lsa0,share=on,mem-path=cxl-lsa0.${c.role}.raw,size=256M`);
    a.push('-device', 'pxb-cxl,bus_nr=12,bus=pcie.0,id=cxl.1');
    a.push('-device', 'cxl-rp,port=0,bus=cxl.1,id=rp0,chassis=0,slot=2');
    a.push('-device', 'cxl-type3,bus=rp0,memdev=cxl-mem0,lsa=cxl-lsa0,id=cxl-pmem0');
    a.push('-M', 'cxl-fmw.0.targets.0=cxl.1,cxl-fmw.0.size=4G');
  }
  return a;
}

const BOOT_LOG_LINES = 80;

/**
 * One QEMU process, under `timeout`, with its serial console parsed: boot output is kept aside
 * (shown on failure or with --verbose), the job's output is streamed to the sink.
 */
export class Guest {
  readonly result: Promise<GuestResult>;
  private child: ChildProcess | undefined;
  private state: 'boot' | 'job' | 'done' = 'boot';
  private buf = '';
  private partial = '';
  private readonly boot: string[] = [];
  private stderr = '';
  private endStatus: number | undefined;
  private failure: string | undefined;
  private timedOut = false;
  private killing = false;
  private stopReason: string | undefined;
  private readonly t0 = Date.now();
  private bootSec: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private resolveResult!: (r: GuestResult) => void;

  constructor(readonly config: GuestConfig) {
    this.result = new Promise((r) => (this.resolveResult = r));
  }

  start(): void {
    const c = this.config;
    let cmdline = kernelCmdline(c, true);
    if (cmdline.length > MAX_CMDLINE) cmdline = kernelCmdline(c, false);
    const args = qemuArgs(c, cmdline);
    debug(`${c.role}: ${shQuote(c.qemu)} ${args.map(shQuote).join(' ')}`);
    // `timeout` is the backstop; the lab's own timer ends QEMU by its PID first.
    const child = spawn('timeout', ['-k', '5', `${c.timeoutSec + 20}`, c.qemu, ...args], {
      cwd: c.work,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (s: string) => this.onData(s));
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (s: string) => {
      this.stderr = (this.stderr + s).slice(-8000);
      if (isVerbose()) process.stderr.write(`${c.prefix || 'qemu: '}${s}`);
    });
    child.on('error', (e) => {
      this.failure = `cannot start QEMU: ${e.message}`;
    });
    this.timer = setTimeout(() => {
      this.timedOut = true;
      this.kill();
    }, c.timeoutSec * 1000);
    child.on('close', (code, sig) => this.finish(code, sig));
  }

  /** Ends QEMU by its own PID (from -pidfile), then the `timeout` wrapper; SIGKILL if they linger. */
  kill(why?: string): void {
    if (this.killing || !this.child || !this.running) return;
    this.killing = true;
    if (why && !this.timedOut) this.stopReason = why;
    const qemuPid = this.qemuPid();
    const signal = (sig: NodeJS.Signals): void => {
      for (const pid of [qemuPid, this.child?.pid]) {
        if (!pid) continue;
        try {
          process.kill(pid, sig);
        } catch {
          /* already gone */
        }
      }
    };
    signal('SIGTERM');
    const hard = setTimeout(() => signal('SIGKILL'), 4000);
    hard.unref();
    this.child.once('close', () => clearTimeout(hard));
  }

  /** Synchronous last resort (process exit): SIGKILL QEMU and its wrapper. */
  killNow(): void {
    if (!this.child || !this.running) return;
    for (const pid of [this.qemuPid(), this.child.pid]) {
      try {
        if (pid) process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }

  get running(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  private qemuPid(): number | undefined {
    try {
      const pid = Number(readFileSync(join(this.config.work, `qemu.${this.config.role}.pid`), 'utf8').trim());
      return pid > 0 ? pid : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * Job output to the sink. Unprefixed output streams as it comes; prefixed output (peers) goes
   * out in whole lines so the two guests' lines never mix.
   */
  private emit(text: string): void {
    if (!text) return;
    const p = this.config.prefix;
    if (!p) {
      this.config.sink.write(text);
      return;
    }
    this.partial += text;
    const nl = this.partial.lastIndexOf('\n');
    if (nl < 0) return;
    const whole = this.partial.slice(0, nl + 1);
    this.partial = this.partial.slice(nl + 1);
    this.config.sink.write(
      whole
        .split('\n')
        .slice(0, -1)
        .map((l) => `${p}${l}\n`)
        .join(''),
    );
  }

  /** Ends the job's output: a last unterminated line gets its newline (prefixed mode). */
  private endOutput(): void {
    if (this.config.prefix && this.partial) this.emit('\n');
  }

  private bootLine(line: string): void {
    this.boot.push(line);
    if (this.boot.length > BOOT_LOG_LINES) this.boot.shift();
    if (isVerbose()) process.stderr.write(`${this.config.prefix || '[boot] '}${line}\n`);
  }

  private onData(chunk: string): void {
    // The serial tty turns \n into \r\n.
    this.buf = (this.buf + chunk).replace(/\r+\n/g, '\n');
    const n = this.config.nonce;
    for (;;) {
      if (this.state === 'boot' || this.state === 'done') {
        const nl = this.buf.indexOf('\n');
        if (nl < 0) return;
        const line = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 1);
        if (this.state === 'done') {
          this.bootLine(line);
          continue;
        }
        if (line.includes(`\x01LAB:BEGIN:${n}`)) {
          this.state = 'job';
          this.bootSec = (Date.now() - this.t0) / 1000;
        } else if (line.includes(`\x01LAB:FAIL:${n}:`)) {
          this.failure = `guest setup failed: ${line.slice(line.indexOf(`:${n}:`) + n.length + 2)}`;
          this.bootLine(line.replace('\x01', ''));
        } else {
          this.bootLine(line);
        }
        continue;
      }
      // Job output: stream it as it comes, holding back only what may be the start of a marker.
      const m = this.buf.indexOf('\x01');
      if (m < 0) {
        const keep = this.buf.endsWith('\r') ? 1 : 0;
        this.emit(this.buf.slice(0, this.buf.length - keep));
        this.buf = this.buf.slice(this.buf.length - keep);
        return;
      }
      this.emit(this.buf.slice(0, m));
      this.buf = this.buf.slice(m);
      const nl = this.buf.indexOf('\n');
      if (nl < 0) return;
      const line = this.buf.slice(0, nl);
      this.buf = this.buf.slice(nl + 1);
      const end = new RegExp(`^\\x01LAB:END:${n}:(\\d+)$`).exec(line);
      if (end) {
        this.endStatus = Number(end[1]);
        this.state = 'done';
        this.endOutput();
      } else {
        this.emit(`${line}\n`);
      }
    }
  }

  private finish(code: number | null, sig: NodeJS.Signals | null): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.state === 'job' && this.buf) this.emit(this.buf);
    if (this.state !== 'boot') this.endOutput();
    const c = this.config;
    let fileStatus: number | undefined;
    const statusFile = join(c.work, `status.${c.role}`);
    if (existsSync(statusFile)) {
      const v = Number(readFileSync(statusFile, 'utf8').trim());
      if (Number.isInteger(v)) fileStatus = v;
    }
    const got = fileStatus ?? this.endStatus;
    let ran = false;
    let status: number;
    let failure = this.failure;
    if (failure) status = 125;
    else if (this.stopReason && got === undefined) {
      status = 125;
      failure = this.stopReason;
    } else if (this.state !== 'boot' && got !== undefined) {
      status = got;
      ran = true;
    } else if (this.timedOut) {
      status = 124;
      failure = `timed out after ${c.timeoutSec} s ${this.state === 'boot' ? 'before the command started' : 'while the command ran'}`;
    } else {
      status = 125;
      const how =
        code === null ? `was killed by ${sig ?? 'a signal'}` : code % 2 === 1 ? `exited with ${code}` : `exited with ${code} (the guest crashed or powered off)`;
      failure = this.state === 'boot' ? `the guest did not reach the command: QEMU ${how}` : `the command's status was lost: QEMU ${how}`;
    }
    this.resolveResult({
      role: c.role,
      status,
      ran,
      timedOut: this.timedOut,
      ...(failure ? { failure } : {}),
      qemuExit: code,
      bootLog: this.boot.join('\n'),
      // QEMU's note that the lab itself stopped it is no news.
      qemuStderr: this.stderr.replace(/^.*terminating on signal \d+ from pid \d+.*$/gm, '').trim(),
      wallSec: (Date.now() - this.t0) / 1000,
      ...(this.bootSec !== undefined ? { bootSec: this.bootSec } : {}),
    });
  }
}
