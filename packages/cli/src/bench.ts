/**
 * `datamover bench`: runs the repository's benchmark suite (bench/run.js) in this process. The
 * suite lives beside the packages, not inside them, so it exists in a source checkout only.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { isEngineChoice } from './backends.js';
import { CliError } from './errors.js';

export const BENCH_USAGE = 'datamover bench [--quick] [--engine native|ts|auto]';

interface BenchModule {
  runBench(options: { quick?: boolean; engine?: string; out?: NodeJS.WritableStream }): Promise<{ ok: boolean }>;
}

/** bench/run.js of the checkout this CLI was built in (packages/cli/dist → the repository root). */
const benchEntry = new URL('../../../bench/run.js', import.meta.url);

export async function benchCommand(argv: string[], out: NodeJS.WritableStream): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: { quick: { type: 'boolean', default: false }, engine: { type: 'string' } },
  });
  if (!existsSync(fileURLToPath(benchEntry))) {
    throw new CliError('BENCH_UNAVAILABLE', `the benchmark suite is not here (${fileURLToPath(benchEntry)}); it ships with the source repository, not the npm package`);
  }
  if (values.engine !== undefined && !isEngineChoice(values.engine)) throw new CliError('INVALID_ARGUMENT', `--engine must be native, ts or auto, got "${values.engine}"`);
  const bench = (await import(benchEntry.href)) as BenchModule;
  const run = await bench.runBench({ quick: values.quick, ...(values.engine === undefined ? {} : { engine: values.engine }), out });
  if (!run.ok) throw new CliError('CHECK_FAILED', 'a bench case failed to run; see the warnings above');
  return 0;
}
