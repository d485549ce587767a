/** `pnpm example:kv`: runs the example with its default config; KV_DAX names a device-DAX to use. */
import { DEFAULT_CONFIG, runExample } from './example.js';

const daxPath = process.env['KV_DAX'];
try {
  await runExample({ ...DEFAULT_CONFIG, ...(daxPath ? { daxPath } : {}) });
} catch (err) {
  console.error(err);
  process.exitCode = 1;
}
