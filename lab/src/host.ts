import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { LabError, info, isRoot, runStreaming, which } from './util.js';

/**
 * Debian packages the lab uses on the host. The guest's root *is* the host's root, so the tools a
 * command runs in the guest (ibv_devices, ib_write_bw, ndctl, cxl, numactl) come from here too.
 */
export const HOST_PACKAGES = [
  'qemu-system-x86', // qemu-system-x86_64 (7.2 on Debian 12)
  'busybox-static', // the initramfs's only program
  'kmod', // depmod on the host; modprobe in the guest
  'xz-utils', // unpacks the ELF vmlinux out of the bzImage
  'iproute2', // ip, rdma
  'rdma-core',
  'ibverbs-providers', // librxe (the Soft-RoCE user-space provider)
  'ibverbs-utils', // ibv_devices, ibv_devinfo
  'rdmacm-utils',
  'perftest', // ib_write_bw, ib_read_bw
  'ndctl', // ndctl and cxl
  'daxctl',
  'numactl',
  'libcxl1',
] as const;

/** The packages of `wanted` that dpkg does not list as installed. Throws if this is no Debian host. */
export function missingPackages(wanted: readonly string[] = HOST_PACKAGES): string[] {
  if (!which('dpkg-query') || !which('apt-get')) {
    throw new LabError(
      'the lab needs a Debian-family host (apt-get, dpkg): it boots Debian\'s kernel and uses Debian\'s packages',
      undefined,
      true,
    );
  }
  const r = spawnSync('dpkg-query', ['-W', '-f', '${Package} ${db:Status-Abbrev}\\n', ...wanted], { encoding: 'utf8' });
  const installed = new Set<string>();
  for (const line of String(r.stdout ?? '').split('\n')) {
    const [pkg, status] = line.trim().split(/\s+/);
    if (pkg && status?.startsWith('ii')) installed.add(pkg.replace(/:.*$/, ''));
  }
  return wanted.filter((p) => !installed.has(p));
}

function aptEnv(): NodeJS.ProcessEnv {
  return { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
}

function aptHasLists(): boolean {
  try {
    return readdirSync('/var/lib/apt/lists').some((f) => f.includes('_Packages'));
  } catch {
    return false;
  }
}

/** `apt-get update`, once per process, and only when asked for. */
let updated = false;
export async function aptUpdate(): Promise<void> {
  if (updated) return;
  info('apt-get update');
  await runStreaming('apt-get', ['-q', '-o', 'DPkg::Lock::Timeout=300', 'update'], aptEnv());
  updated = true;
}

export function installCommand(pkgs: readonly string[]): string {
  return `sudo apt-get install -y --no-install-recommends ${pkgs.join(' ')}`;
}

/**
 * Installs whatever of HOST_PACKAGES is missing (root only). Not root: fails fast with the exact
 * command to run, marked "unavailable" so test suites skip rather than fail.
 */
export async function ensureHostPackages(): Promise<void> {
  const missing = missingPackages();
  if (missing.length === 0) return;
  if (!isRoot()) {
    throw new LabError(
      `missing Debian packages: ${missing.join(' ')}\n  install them with: ${installCommand(missing)}`,
      undefined,
      true,
    );
  }
  const t0 = Date.now();
  info(`installing ${missing.length} Debian packages (once): ${missing.join(' ')}`);
  if (!aptHasLists()) await aptUpdate();
  const args = ['-q', '-y', '--no-install-recommends', '-o', 'DPkg::Lock::Timeout=300', 'install', ...missing];
  try {
    await runStreaming('apt-get', args, aptEnv());
  } catch {
    // Stale or missing package lists are the usual cause: refresh them and try once more.
    await aptUpdate();
    try {
      await runStreaming('apt-get', args, aptEnv());
    } catch (e) {
      throw new LabError(`could not install ${missing.join(' ')}`, e instanceof LabError ? e.detail : String(e), true);
    }
  }
  const still = missingPackages();
  if (still.length) throw new LabError(`apt-get did not install: ${still.join(' ')}`, undefined, true);
  info(`installed in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}
