/** A collector cleanup that throws is reported as a process warning, not thrown from the garbage collector. */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { expect, it } from 'vitest';
import { collector } from '../src/collector.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

it('turns a throwing cleanup into a DATAMOVER_COLLECT warning', async () => {
  const warnings: (Error & { code?: string })[] = [];
  const onWarning = (w: Error) => warnings.push(w);
  process.on('warning', onWarning);
  try {
    const cleanups = collector<string>('thing', (held) => {
      throw new Error(`cannot free ${held}`);
    });
    (() => cleanups.register({}, 'x'))(); // the target is unreachable once this returns
    for (let i = 0; i < 50 && warnings.length === 0; i++) {
      gc();
      await new Promise((r) => setTimeout(r, 10));
    }
  } finally {
    process.off('warning', onWarning);
  }
  expect(warnings).toContainEqual(expect.objectContaining({ code: 'DATAMOVER_COLLECT', message: 'datamover: releasing a collected thing failed: cannot free x' }));
});
