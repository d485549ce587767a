import type { TestProject } from 'vitest/node';
import { checkLab } from '../dist/index.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Why the lab cannot run here ('' when it can). */
    labSkip: string;
  }
}

/**
 * Once per `pnpm test:lab`: installs what is missing (root only), fetches and caches the kernel,
 * builds the initramfs, probes KVM, and boots a trivial guest. When QEMU cannot run here the lab
 * suites are skipped with the reason, unless LAB_REQUIRED=1 (CI on a machine that can run them),
 * which turns that into a failure.
 */
export default async function setup(project: TestProject): Promise<void> {
  const r = await checkLab();
  if (r.ok) {
    process.stderr.write(`lab: ready (${r.accel}, kernel ${r.kver}, checked in ${r.seconds.toFixed(1)} s)\n`);
    project.provide('labSkip', '');
    return;
  }
  const reason = `${r.unavailable ? 'QEMU cannot run here' : 'the lab does not work here'}: ${r.reason ?? '?'}`;
  if (process.env['LAB_REQUIRED'] === '1') throw new Error(`lab: ${reason} (and LAB_REQUIRED=1)`);
  process.stderr.write(`\nlab: SKIPPING the lab suites: ${reason}\n\n`);
  project.provide('labSkip', reason);
}
