#!/usr/bin/env node
/**
 * Rewrites the "latest results" section of bench/README.md (between its results markers) from
 * bench/results/latest-<mode>.json.
 *
 *   node bench/update-readme.js [full|quick]     (default full)
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { readmeSection } from './lib/report.js';

const mode = process.argv[2] ?? 'full';
const prefix = `latest-${mode}`;
const run = JSON.parse(readFileSync(fileURLToPath(new URL(`./results/${prefix}.json`, import.meta.url)), 'utf8'));
const readmePath = fileURLToPath(new URL('./README.md', import.meta.url));
const readme = readFileSync(readmePath, 'utf8');
const START = '<!-- results:start (written by node bench/update-readme.js) -->';
const END = '<!-- results:end -->';
const a = readme.indexOf(START);
const b = readme.indexOf(END);
if (a < 0 || b < a) throw new Error(`bench/README.md has no ${START} … ${END} markers`);
writeFileSync(readmePath, `${readme.slice(0, a + START.length)}\n${readmeSection(run, prefix)}\n${readme.slice(b)}`);
process.stdout.write(`bench/README.md: results section from results/${prefix}.json (${run.date})\n`);
