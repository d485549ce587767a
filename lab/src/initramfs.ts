import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { Kernel } from './kernel.js';
import { LabError, LAB_DIR, cacheDir, info, run } from './util.js';

/** What the initramfs needs to mount the host's root: 9p over virtio-pci, and overlayfs. */
const BOOT_MODULES = ['virtio_pci', '9pnet_virtio', '9p', 'overlay'];
const FORMAT = 'lab-initramfs-1';

/** newc cpio writer: enough for directories, regular files and device nodes. */
class Cpio {
  private readonly parts: Buffer[] = [];
  private ino = 1;

  private entry(name: string, mode: number, data: Buffer, rdevMajor = 0, rdevMinor = 0): void {
    const nameBuf = Buffer.from(`${name}\0`);
    const fields = [
      this.ino++, mode, 0, 0, 1, 0, data.length, 0, 0, rdevMajor, rdevMinor, nameBuf.length, 0,
    ];
    const header = `070701${fields.map((f) => f.toString(16).padStart(8, '0')).join('')}`;
    this.parts.push(Buffer.from(header, 'ascii'), nameBuf);
    this.pad(110 + nameBuf.length);
    this.parts.push(data);
    this.pad(data.length);
  }

  private pad(n: number): void {
    const r = n % 4;
    if (r) this.parts.push(Buffer.alloc(4 - r));
  }

  dir(name: string): void {
    this.entry(name, 0o040755, Buffer.alloc(0));
  }
  file(name: string, data: Buffer, perm = 0o644): void {
    this.entry(name, 0o100000 | perm, data);
  }
  charDev(name: string, major: number, minor: number): void {
    this.entry(name, 0o020600, Buffer.alloc(0), major, minor);
  }
  finish(): Buffer {
    this.entry('TRAILER!!!', 0, Buffer.alloc(0));
    const all = Buffer.concat(this.parts);
    return Buffer.concat([all, Buffer.alloc((512 - (all.length % 512)) % 512)]);
  }
}

/** The .ko files for BOOT_MODULES in load order, as `modprobe --show-depends` lists them. */
function moduleFiles(kernel: Kernel): string[] {
  const files: string[] = [];
  for (const m of BOOT_MODULES) {
    const out = run('modprobe', ['-d', kernel.base, '-S', kernel.kver, '--show-depends', m]);
    for (const line of out.split('\n')) {
      const f = /^insmod\s+(\S+)/.exec(line)?.[1];
      if (f && !files.includes(f)) files.push(f);
    }
  }
  return files;
}

function readModule(path: string): Buffer {
  if (path.endsWith('.ko')) return readFileSync(path);
  const tool = path.endsWith('.xz') ? 'xz' : path.endsWith('.zst') ? 'zstd' : path.endsWith('.gz') ? 'gzip' : '';
  if (!tool) throw new LabError(`unknown module format: ${path}`);
  const r = spawnSync(tool, ['-dc', path], { maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new LabError(`cannot decompress ${path} with ${tool}`);
  return r.stdout;
}

/** True if an ELF64 file asks for a dynamic loader (PT_INTERP): it cannot run in the initramfs. */
function hasInterpreter(elf: Buffer): boolean {
  if (elf.length < 64 || elf.readUInt32BE(0) !== 0x7f454c46) return false;
  const phoff = Number(elf.readBigUInt64LE(0x20));
  const phentsize = elf.readUInt16LE(0x36);
  const phnum = elf.readUInt16LE(0x38);
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * phentsize;
    if (at + 4 <= elf.length && elf.readUInt32LE(at) === 3) return true;
  }
  return false;
}

/**
 * Builds (or reuses) the initramfs: busybox-static, the boot modules and lab/guest/init. Cached by
 * content, so a second run reuses it; editing lab/guest/init rebuilds it (0.3 s).
 */
export function ensureInitramfs(kernel: Kernel): string {
  const busybox = ['/bin/busybox', '/usr/bin/busybox'].find((p) => existsSync(p));
  if (!busybox) throw new LabError('busybox is missing (apt-get install busybox-static)', undefined, true);
  const bb = statSync(busybox);
  const init = readFileSync(join(LAB_DIR, 'guest', 'init'));
  const mods = moduleFiles(kernel);
  const key = createHash('sha256')
    .update(`${FORMAT}\n${kernel.kver}\n${busybox} ${bb.size} ${bb.mtimeMs}\n${mods.join('\n')}\n`)
    .update(init)
    .digest('hex')
    .slice(0, 16);
  const dir = join(cacheDir(), 'initramfs');
  const out = join(dir, `${kernel.kver}-${key}.cpio`);
  if (existsSync(out)) return out;

  const bbData = readFileSync(busybox);
  if (hasInterpreter(bbData)) {
    throw new LabError(`${busybox} is not static (apt-get install busybox-static)`, undefined, true);
  }
  const c = new Cpio();
  for (const d of ['bin', 'dev', 'proc', 'sys', 'mnt', 'mnt/lower', 'mnt/rw', 'newroot', 'lib', 'lib/modules']) c.dir(d);
  c.charDev('dev/console', 5, 1);
  c.charDev('dev/null', 1, 3);
  c.file('bin/busybox', bbData, 0o755);
  c.file('init', init, 0o755);
  mods.forEach((m, i) => {
    const name = basename(m).replace(/\.ko\.(xz|zst|gz)$/, '.ko');
    c.file(`lib/modules/${String(i).padStart(2, '0')}-${name}`, readModule(m));
  });
  mkdirSync(dir, { recursive: true });
  const tmp = `${out}.tmp-${process.pid}`;
  writeFileSync(tmp, c.finish());
  renameSync(tmp, out);
  info(`initramfs built: ${mods.length} modules, ${Math.round(statSync(out).size / 1024)} KiB`);
  return out;
}
