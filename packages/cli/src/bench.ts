/**
 * `datamover bench`: runs the repository's benchmark suite (bench/run.js) in this process, with
 * the same options as `node bench/run.js` / `pnpm bench`. The suite lives beside the packages,
 * not inside them, so it exists in a source checkout only.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CliError } from './errors.js';

export const BENCH_USAGE = 'datamover bench [--quick] [--ops …] [--sizes …] [--batches …] [--backends …] [--peers …] [--only …] [--engine native|ts|auto] [--out dir]';

/** What bench/run.js exports (it is plain JavaScript; this is its contract with the CLI). */
interface BenchModule {
  BENCH_USAGE: string;
  /** Throws errors with code INVALID_ARGUMENT (or node's ERR_PARSE_ARGS_*) on bad options. */
  parseBenchArgs(argv: string[]): Record<string, unknown> & { help?: boolean };
  runBench(options: Record<string, unknown>, io: { out: NodeJS.WritableStream; command?: string }): Promise<{ ok: boolean; errors: unknown[] }>;
}

/** bench/run.js of the checkout this CLI was built in (packages/cli/dist → the repository root). */
const benchEntry = new URL('../../../bench/run.js', import.meta.url);

export async function benchCommand(argv: string[], out: NodeJS.WritableStream): Promise<number> {
  if (!existsSync(fileURLToPath(benchEntry))) {
    throw new CliError('BENCH_UNAVAILABLE', `the benchmark suite is not here (${fileURLToPath(benchEntry)}); it ships with the source repository, not the npm package`);
  }
  const bench = (await import(benchEntry.href)) as BenchModule;
  let options: ReturnType<BenchModule['parseBenchArgs']>;
  try {
    options = bench.parseBenchArgs(argv);
  } catch (e) {
    if ((e as { code?: unknown }).code === 'INVALID_ARGUMENT') throw new CliError('INVALID_ARGUMENT', (e as Error).message, { cause: e });
    throw e;
  }
  if (options.help) {
    out.write(`${bench.BENCH_USAGE.replace(/^usage: node bench\/run\.js \[options\].*$/m, `usage: ${BENCH_USAGE}`)}\n`);
    return 0;
  }
  const run = await bench.runBench(options, { out, command: ['datamover bench', ...argv].join(' ') });
  if (!run.ok) throw new CliError('CHECK_FAILED', `${run.errors.length} bench measurement(s) failed or left wrong results; see the errors above and in the results file`);
  return 0;
}
