import { expect, it } from 'vitest';
import { describeLab, lab } from './helpers.js';

interface CxlListing {
  memdevs?: Array<{ memdev: string; pmem_size?: number }>;
  regions?: Array<{ region: string; size: number; decode_state?: string }>;
}

describeLab('lab --cxl (CXL type-3, discovery only)', () => {
  it('`cxl list` shows the memdev and the committed region', async () => {
    const r = await lab(['--cxl', '--', 'echo "env: $LAB_CXL_MEMDEV $LAB_CXL_REGION"; echo "@@json"; cxl list -M -R']);
    expect(r.status, r.output).toBe(0);
    expect(r.stdout).toMatch(/^env: mem0 region\d+$/m);
    const json = JSON.parse(r.stdout.slice(r.stdout.indexOf('@@json') + 6)) as CxlListing[];
    const memdevs = json.flatMap((x) => x.memdevs ?? []);
    const regions = json.flatMap((x) => x.regions ?? []);
    expect(memdevs.map((m) => m.memdev)).toContain('mem0');
    expect(memdevs[0]?.pmem_size).toBe(256 << 20);
    expect(regions.length, r.output).toBe(1);
    expect(regions[0]?.decode_state).toBe('commit');
    expect(regions[0]?.size).toBe(256 << 20);
  });
});
