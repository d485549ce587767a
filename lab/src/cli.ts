#!/usr/bin/env node
import { checkLab, runLab, type LabOptions } from './lab.js';
import { LabError } from './util.js';

const USAGE = `Usage: pnpm lab [options] -- <command> [args...]

Boots Debian's kernel under QEMU with this machine's / as the guest's root (read-only, with a
writable overlay), runs <command> there in the same folder, streams its output and exits with its
status. A single <command> argument is run as a shell command line.

Options:
  --rdma            a virtio NIC with the Soft-RoCE device rxe0 on it (LAB_RDMA_DEV, LAB_SELF)
  --peers 2         two guests on a private link, each with rxe0; both run <command>, told
                    LAB_ROLE=server|client, LAB_SELF and LAB_PEER (their IPv4 addresses)
  --dax             an NVDIMM set up as /dev/dax0.0 in devdax mode (LAB_DAX)
  --dax-file PATH   the NVDIMM's backing file, kept after the run (default: a temporary file)
  --numa            a CPU-less NUMA node 1 with 512 MiB (LAB_NUMA_NODE)
  --cxl             a CXL type-3 memdev with a pmem region (discovery only: QEMU 7.2's CXL data
                    path reads back zeros) (LAB_CXL_MEMDEV, LAB_CXL_REGION)
  --accel auto|kvm|tcg   default auto: KVM only if a probe boot works (cached), else TCG
  --timeout SEC     end each guest after SEC seconds (default 600); the run exits 124
  --env NAME=VALUE  set a variable for <command> (repeatable)
  --cpus N          guest CPUs (default 2)     --mem MIB   guest memory (default 1024)
  --verbose, -v     show the QEMU command line, the boot log and setup output
  --keep            keep the run's work folder (lab/.work/run-*)
  --check           install/download/build what is missing, boot once, and say if the lab works
  --help, -h

Exit status: the command's (the larger of the two with --peers); 124 timeout; 125 the lab failed
(missing packages without root, guest did not boot, device setup failed).`;

function parse(argv: readonly string[]): { opts: LabOptions; check: boolean } {
  const o: { -readonly [K in keyof LabOptions]: LabOptions[K] } = { command: [] };
  const env: Record<string, string> = {};
  let check = false;
  let i = 0;
  const value = (name: string, inline: string | undefined): string => {
    if (inline !== undefined) return inline;
    const v = argv[++i];
    if (v === undefined) throw new LabError(`${name} needs a value`);
    return v;
  };
  const int = (name: string, v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n <= 0) throw new LabError(`${name}: not a positive integer: ${v}`);
    return n;
  };
  for (; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--') {
      i++;
      break;
    }
    if (!arg.startsWith('-')) break;
    const eq = arg.indexOf('=');
    const name = arg.startsWith('--') && eq > 0 ? arg.slice(0, eq) : arg;
    const inline = arg.startsWith('--') && eq > 0 ? arg.slice(eq + 1) : undefined;
    switch (name) {
      case '--rdma':
        o.rdma = true;
        break;
      case '--peers': {
        const n = int(name, value(name, inline));
        if (n !== 1 && n !== 2) throw new LabError('--peers takes 1 or 2');
        o.peers = n;
        break;
      }
      case '--dax':
        o.dax = true;
        break;
      case '--dax-file':
        o.daxFile = value(name, inline);
        o.dax = true;
        break;
      case '--numa':
        o.numa = true;
        break;
      case '--cxl':
        o.cxl = true;
        break;
      case '--accel': {
        const a = value(name, inline);
        if (a !== 'auto' && a !== 'kvm' && a !== 'tcg') throw new LabError('--accel takes auto, kvm or tcg');
        o.accel = a;
        break;
      }
      case '--timeout':
        o.timeoutSec = int(name, value(name, inline));
        break;
      case '--env': {
        const kv = value(name, inline);
        const k = kv.indexOf('=');
        if (k <= 0) throw new LabError(`--env takes NAME=VALUE, not ${kv}`);
        env[kv.slice(0, k)] = kv.slice(k + 1);
        break;
      }
      case '--cpus':
        o.cpus = int(name, value(name, inline));
        break;
      case '--mem':
        o.memMiB = int(name, value(name, inline));
        break;
      case '--verbose':
      case '-v':
        o.verbose = true;
        break;
      case '--keep':
        o.keep = true;
        break;
      case '--check':
        check = true;
        break;
      case '--help':
      case '-h':
        process.stdout.write(`${USAGE}\n`);
        process.exit(0);
        break;
      default:
        throw new LabError(`unknown option ${arg} (see --help)`);
    }
  }
  o.command = argv.slice(i);
  if (Object.keys(env).length) o.env = env;
  // Through `pnpm lab` the script runs in the repo root; the caller's folder is INIT_CWD.
  const initCwd = process.env['INIT_CWD'];
  o.cwd = process.env['npm_lifecycle_event'] === 'lab' && initCwd ? initCwd : process.cwd();
  return { opts: o, check };
}

async function main(): Promise<number> {
  const { opts, check } = parse(process.argv.slice(2));
  if (check) {
    const r = await checkLab({ ...(opts.verbose ? { verbose: true } : {}), ...(opts.accel ? { accel: opts.accel } : {}) });
    if (r.ok) process.stderr.write(`lab: ready (${r.accel}, kernel ${r.kver}, ${r.seconds.toFixed(1)} s)\n`);
    else process.stderr.write(`lab: ${r.unavailable ? 'unavailable' : 'not working'}: ${r.reason}\n`);
    return r.ok ? 0 : 1;
  }
  if (opts.command.length === 0) throw new LabError(`no command given\n\n${USAGE}`);
  const r = await runLab(opts);
  return r.status;
}

main().then(
  (status) => {
    process.exitCode = status;
  },
  (e: unknown) => {
    if (e instanceof LabError) {
      process.stderr.write(`lab: ${e.message}\n${e.detail ? `${e.detail.replace(/^/gm, '  | ')}\n` : ''}`);
      process.exitCode = 125;
    } else {
      process.stderr.write(`lab: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exitCode = 125;
    }
  },
);
