/** `datamover info`: which backends can run here, why not, and what each can do. */
import { parseArgs } from 'node:util';
import { Mover, type BackendReport, type Capabilities, type HostEngineInfo, type OperationSupport } from '@datamover/core';
import { addonPath, loadNative } from '@datamover/backend-soft';
import { findBackends } from './backends.js';
import { formatBytes, table } from './format.js';

export const INFO_USAGE = 'datamover info [--json]';

export interface InfoReport {
  /** Every known backend; one whose package is not installed has `installed: false` and the reason. */
  readonly backends: (Partial<BackendReport> & { id: string; description: string; installed: boolean; available: boolean; reason?: string; capabilities: Capabilities | null })[];
  readonly nativeAddon: { path: string; loaded: true; info: HostEngineInfo } | { path: string; loaded: false; error: string };
}

/** Probes every known backend; capabilities are listed for the available ones. */
export async function gatherInfo(): Promise<InfoReport> {
  const found = await findBackends();
  const present = found.flatMap((f) => (f.backend ? [f.backend] : []));
  const reports = await Mover.probe(present);
  const n = loadNative();
  return {
    backends: found.map((f) => {
      const { id, description } = f.known;
      if (!f.backend) return { id, description, installed: false, available: false, reason: f.missing, capabilities: null };
      const r = reports[present.indexOf(f.backend)]!;
      return { ...r, id, description, installed: true, capabilities: r.available ? f.backend.capabilities() : null };
    }),
    nativeAddon: 'addon' in n ? { path: n.path, loaded: true, info: n.addon.Engine.info() } : { path: addonPath, loaded: false, error: n.error },
  };
}

export async function infoCommand(argv: string[], out: NodeJS.WritableStream): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { json: { type: 'boolean', default: false } }, strict: true, allowPositionals: false });
  const report = await gatherInfo();
  if (values.json) {
    out.write(`${JSON.stringify(report, null, 2)}\n`);
    return 0;
  }
  out.write(`${renderInfo(report)}\n`);
  return 0;
}

export function renderInfo(report: InfoReport): string {
  const parts: string[] = [];
  parts.push('Backends');
  parts.push(
    table(
      ['backend', 'available', 'version', 'kind', 'engine / reason'],
      report.backends.map((b) => [b.id, b.available ? 'yes' : 'no', b.version ?? '-', b.kind ?? '-', b.available ? describeEngine(b) : (b.reason ?? 'unavailable')]),
    ),
  );
  const a = report.nativeAddon;
  parts.push('');
  parts.push(a.loaded ? `soft native addon: loaded from ${a.path}\n  ${describeNative(a.info)}` : `soft native addon: not loaded: ${a.error}`);
  for (const b of report.backends) {
    if (!b.available || !b.capabilities) continue;
    parts.push('');
    parts.push(`Capabilities of ${b.id} (${b.description}): at most ${formatBytes(b.capabilities.maxDescriptorBytes)} per descriptor, ${b.capabilities.maxRegions} regions`);
    parts.push(capabilityTable(b.capabilities.operations));
  }
  return parts.join('\n');
}

/** `ts engine (standing in for the native engine: …)`, then the probe's other details. */
function describeEngine({ details, standIn }: Partial<BackendReport>): string {
  if (!details) return '';
  const engine = typeof details['engine'] === 'string' ? `${details['engine']} engine` : '';
  const extra = standIn ? ` (standing in for the ${standIn.part}: ${standIn.reason})` : '';
  const rest = Object.entries(details)
    .filter(([k]) => k !== 'engine' && k !== 'native')
    .map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`);
  return [engine + extra, ...rest].filter(Boolean).join(', ');
}

function describeNative(info: HostEngineInfo): string {
  return [
    `non-temporal stores from ${formatBytes(info.ntThreshold)}`,
    `LLC ${formatBytes(info.llcBytes)}`,
    `crc32c ${info.crc32c}`,
    `avx2 ${info.avx2 ? 'yes' : 'no'}`,
    `page ${formatBytes(info.pageSize)}`,
  ].join(', ');
}

/** One row per operation: the source → destination kinds it takes. */
export function capabilityTable(ops: readonly OperationSupport[]): string {
  const byOp = new Map<string, string[]>();
  for (const o of ops) {
    const cell = o.src && o.dst ? `${o.src} → ${o.dst}` : o.src ? `${o.src} →` : o.dst ? `→ ${o.dst}` : '(no operands)';
    const list = byOp.get(o.op) ?? [];
    list.push(cell);
    byOp.set(o.op, list);
  }
  return table(
    ['operation', 'source → destination'],
    [...byOp].map(([op, cells]) => [op, cells.join(', ')]),
  );
}
