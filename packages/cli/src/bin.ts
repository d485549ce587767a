#!/usr/bin/env node
/**
 * The `datamover` command. Exit status: 0 success; 1 a failure the command reports as
 * `error CODE: message` (bad arguments, a DatamoverError, a failed check); 2 an unexpected
 * internal error (a bug: the stack is printed).
 */
import { readFileSync } from 'node:fs';
import { DatamoverError } from '@datamover/core';
import { BENCH_USAGE, benchCommand } from './bench.js';
import { COPY_USAGE, copyCommand } from './copy.js';
import { DEMO_USAGE, demoCommand } from './demo.js';
import { EXPLAIN_USAGE, explainCommand } from './explain.js';
import { CliError } from './errors.js';
import { INFO_USAGE, infoCommand } from './info.js';
import { PEERS_USAGE, peersCommand } from './peers.js';

const USAGE = `usage: datamover <command> [options]

commands:
  ${INFO_USAGE}
      every known backend: available or not and why, version, engine details, capabilities
  ${COPY_USAGE.split('\n').join('\n  ')}
  ${EXPLAIN_USAGE}
  ${DEMO_USAGE}
      runs every operation on every available backend and checks the results
  ${BENCH_USAGE}
      the benchmark suite (bench/run.js; source checkout only)
  ${PEERS_USAGE}
      the agents and exported regions a peer directory on etcd holds under a prefix
  datamover help | --help | --version

exit status: 0 ok; 1 error (printed as "error CODE: message"); 2 internal error`;

type Command = (argv: string[]) => Promise<number>;

const COMMANDS: Readonly<Record<string, Command>> = {
  info: (argv) => infoCommand(argv, process.stdout),
  copy: (argv) => copyCommand(argv, process.stdout, process.stderr),
  explain: (argv) => explainCommand(argv, process.stdout),
  demo: (argv) => demoCommand(argv, process.stdout),
  bench: (argv) => benchCommand(argv, process.stdout),
  peers: (argv) => peersCommand(argv, process.stdout),
};

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    (name === undefined ? process.stderr : process.stdout).write(`${USAGE}\n`);
    return name === undefined ? 1 : 0;
  }
  if (name === '--version' || name === '-v') {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    process.stdout.write(`${pkg.version}\n`);
    return 0;
  }
  const command = COMMANDS[name];
  if (!command) throw new CliError('INVALID_ARGUMENT', `unknown command "${name}"; run \`datamover help\``);
  return command(rest);
}

/** Turns any failure into a message and an exit status. */
export function report(e: unknown): number {
  if (e instanceof DatamoverError || e instanceof CliError) {
    process.stderr.write(`error ${e.code}: ${e.message}\n`);
    return 1;
  }
  const code = (e as { code?: unknown }).code;
  if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_')) {
    process.stderr.write(`error INVALID_ARGUMENT: ${(e as Error).message}; run \`datamover help\`\n`);
    return 1;
  }
  process.stderr.write(`error INTERNAL: ${(e as Error)?.stack ?? String(e)}\n`);
  return 2;
}

// `datamover info | head` closes stdout early: that is not an error.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw e;
});

main(process.argv.slice(2)).then(
  (status) => {
    process.exitCode = status;
  },
  (e: unknown) => {
    process.exitCode = report(e);
  },
);
