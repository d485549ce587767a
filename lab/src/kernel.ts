import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { aptUpdate } from './host.js';
import { LabError, cacheDir, debug, info, isRoot, run, runStreaming } from './util.js';

/** A Debian kernel unpacked into the cache. */
export interface Kernel {
  /** e.g. 6.1.0-56-amd64 */
  readonly kver: string;
  /** What QEMU boots: the ELF vmlinux when it could be unpacked (boots faster), else the bzImage. */
  readonly image: string;
  /** The unpacked package root: `depmod -b` / `modprobe -d` base. */
  readonly base: string;
  /** <base>/lib/modules/<kver>, bind-mounted at /lib/modules/<kver> in the guest. */
  readonly modulesDir: string;
}

const READY = 'READY';

function kernelRoot(): string {
  return join(cacheDir(), 'kernel');
}

function loadCached(dir: string): Kernel | undefined {
  try {
    const k = JSON.parse(readFileSync(join(dir, READY), 'utf8')) as Kernel;
    if (existsSync(k.image) && existsSync(join(k.modulesDir, 'modules.dep'))) return k;
  } catch {
    /* not ready */
  }
  return undefined;
}

/** The kernel image package to use: LAB_KERNEL_PACKAGE, else what linux-image-amd64 depends on. */
function resolvePackage(): string {
  const forced = process.env['LAB_KERNEL_PACKAGE'];
  if (forced) return forced;
  const out = spawnSync('apt-cache', ['depends', 'linux-image-amd64'], { encoding: 'utf8' });
  const m = /Depends:\s*(linux-image-\d[^\s]*-amd64)\b/.exec(String(out.stdout ?? ''));
  if (m?.[1]) return m[1];
  // Fall back to the newest 6.1 image the package lists know.
  const s = spawnSync('apt-cache', ['search', '--names-only', '^linux-image-6\\.1\\.[0-9]+-[0-9]+-amd64$'], { encoding: 'utf8' });
  const names = String(s.stdout ?? '')
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter(Boolean)
    .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  const last = names.at(-1);
  if (!last) throw new LabError('apt-cache knows no linux-image-amd64 package (run apt-get update?)', undefined, true);
  return last;
}

const XZ_MAGIC = Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]);

/**
 * Unpacks the ELF vmlinux from an xz-compressed bzImage. QEMU boots an ELF kernel through its PVH
 * entry point, which skips the decompressor (slow when emulated). Undefined if this is not possible.
 */
function extractVmlinux(vmlinuz: string, out: string): boolean {
  const buf = readFileSync(vmlinuz);
  for (let off = buf.indexOf(XZ_MAGIC); off >= 0; off = buf.indexOf(XZ_MAGIC, off + 1)) {
    const r = spawnSync('xz', ['-dc', '--single-stream'], { input: buf.subarray(off), maxBuffer: 1 << 30 });
    const elf = r.stdout as Buffer | null;
    if (r.status === 0 && elf && elf.length > 4 && elf.readUInt32BE(0) === 0x7f454c46) {
      writeFileSync(out, elf);
      return true;
    }
  }
  return false;
}

/**
 * Returns the cached kernel, or downloads Debian's kernel package (`apt-get download`, no install:
 * installing would run update-initramfs for nothing), unpacks it with `dpkg-deb -x`, runs depmod on
 * the unpacked tree and extracts the ELF vmlinux.
 */
export async function ensureKernel(): Promise<Kernel> {
  const root = kernelRoot();
  mkdirSync(root, { recursive: true });
  const forced = process.env['LAB_KERNEL_PACKAGE'];
  // Reuse what is cached (newest first) unless a package is forced: no apt query on later runs.
  const cached = readdirSync(root)
    .filter((d) => !d.startsWith('.'))
    .sort((a, b) => b.localeCompare(a, 'en', { numeric: true }));
  for (const d of cached) {
    if (forced && !forced.endsWith(d)) continue;
    const k = loadCached(join(root, d));
    if (k) return k;
  }

  let pkg = resolvePackageOrUpdate();
  if (pkg instanceof Promise) pkg = await pkg;
  const kver = pkg.replace(/^linux-image-/, '').replace(/-unsigned$/, '');
  const t0 = Date.now();
  info(`downloading and unpacking ${pkg} (once, into ${root})`);
  const tmp = join(root, `.tmp-${process.pid}-${Date.now()}`);
  mkdirSync(tmp, { recursive: true });
  try {
    const aptArgs = ['-q', 'download', pkg];
    if (isRoot()) aptArgs.unshift('-o', 'APT::Sandbox::User=root');
    await runStreaming('sh', ['-c', `cd "$1" && shift && exec apt-get "$@"`, 'sh', tmp, ...aptArgs]);
    const deb = readdirSync(tmp).find((f) => f.endsWith('.deb'));
    if (!deb) throw new LabError(`apt-get download ${pkg} produced no .deb`);
    const base = join(tmp, 'root');
    run('dpkg-deb', ['-x', join(tmp, deb), base]);
    rmSync(join(tmp, deb));
    const libBase = existsSync(join(base, 'lib', 'modules', kver)) ? base : join(base, 'usr');
    if (!existsSync(join(libBase, 'lib', 'modules', kver))) throw new LabError(`${pkg} has no modules for ${kver}`);
    run('depmod', ['-b', libBase, kver]);
    const vmlinuz = join(base, 'boot', `vmlinuz-${kver}`);
    if (!existsSync(vmlinuz)) throw new LabError(`${pkg} has no /boot/vmlinuz-${kver}`);
    const vmlinux = join(tmp, 'vmlinux');
    const haveElf = extractVmlinux(vmlinuz, vmlinux);
    if (!haveElf) info('could not unpack an ELF vmlinux; booting the bzImage (slower under TCG)');
    const final = join(root, kver);
    const rel = (p: string): string => p.replace(tmp, final);
    const k: Kernel = {
      kver,
      image: haveElf ? rel(vmlinux) : rel(vmlinuz),
      base: rel(libBase),
      modulesDir: rel(join(libBase, 'lib', 'modules', kver)),
    };
    writeFileSync(join(tmp, READY), JSON.stringify(k, null, 2));
    try {
      renameSync(tmp, final);
    } catch {
      // Another run got there first: use its copy.
      debug(`kernel ${kver} already cached by another run`);
    }
    const got = loadCached(final);
    if (!got) throw new LabError(`kernel cache ${final} is incomplete; delete it and retry`);
    const mb = Math.round(statSync(got.image).size / 1e6);
    info(`kernel ${kver} ready in ${((Date.now() - t0) / 1000).toFixed(1)} s (${mb} MB image)`);
    return got;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

function resolvePackageOrUpdate(): string | Promise<string> {
  try {
    return resolvePackage();
  } catch (e) {
    if (!isRoot()) throw e;
    return aptUpdate().then(resolvePackage);
  }
}
