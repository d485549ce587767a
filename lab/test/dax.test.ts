import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, openSync, readSync, closeSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildDaxMmapAddon, describeLab, lab, LAB_DIR } from './helpers.js';

/** Where `needle` first occurs in a (sparse, 512 MiB) file, read in 16 MiB chunks. */
function findInFile(path: string, needle: Buffer): number {
  const fd = openSync(path, 'r');
  try {
    const chunk = Buffer.alloc(16 << 20);
    const size = statSync(path).size;
    for (let pos = 0; pos < size; pos += chunk.length - needle.length) {
      const n = readSync(fd, chunk, 0, chunk.length, pos);
      const i = chunk.subarray(0, n).indexOf(needle);
      if (i >= 0) return pos + i;
      if (n < chunk.length) break;
    }
    return -1;
  } finally {
    closeSync(fd);
  }
}

describeLab('lab --dax (device-DAX on an NVDIMM)', () => {
  let dir = '';
  let addon = '';
  beforeAll(() => {
    addon = buildDaxMmapAddon();
    mkdirSync(join(LAB_DIR, '.work'), { recursive: true });
    dir = mkdtempSync(join(LAB_DIR, '.work', 'test-dax-'));
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('maps /dev/dax0.0 from Node; the bytes reach the host backing file and survive a guest reboot', async () => {
    const file = join(dir, 'nvdimm.img');
    const marker = `lab-dax-${randomBytes(12).toString('hex')}`;
    const OFFSET = 2 << 20; // inside the second 2 MiB page of the mapping
    const write = [
      `const { map } = require(${JSON.stringify(addon)});`,
      'const dev = process.env.LAB_DAX;',
      'const m = new Uint8Array(map(dev, 4 << 20));',
      `Buffer.from(process.env.MARKER).copy(m, ${OFFSET});`,
      'console.log("wrote", process.env.MARKER.length, "bytes to", dev);',
    ].join(' ');
    const r1 = await lab(['--dax-file', file, '--env', `MARKER=${marker}`, '--', 'node', '-e', write]);
    expect(r1.status, r1.output).toBe(0);
    expect(r1.stdout).toContain(`wrote ${marker.length} bytes to /dev/dax0.0`);

    // On the host, after the guest is gone: the marker is in the NVDIMM's backing file.
    expect(statSync(file).size).toBe(512 << 20);
    const at = findInFile(file, Buffer.from(marker));
    expect(at, 'marker not found in the host backing file').toBeGreaterThan(0);

    // A second boot on the same file: the devdax namespace comes back and so do the bytes.
    const read = [
      `const { map } = require(${JSON.stringify(addon)});`,
      'const m = new Uint8Array(map(process.env.LAB_DAX, 4 << 20));',
      `console.log("read:" + Buffer.from(m.subarray(${OFFSET}, ${OFFSET} + ${marker.length})).toString());`,
    ].join(' ');
    const r2 = await lab(['--dax-file', file, '--', 'node', '-e', read]);
    expect(r2.status, r2.output).toBe(0);
    expect(r2.stdout).toContain(`read:${marker}`);
  });
});
