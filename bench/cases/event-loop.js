/**
 * Event-loop responsiveness while a large copy (1 GiB, --quick 256 MiB) runs asynchronously:
 * perf_hooks.monitorEventLoopDelay at 1 ms resolution, max and p99 over all copies. The peer
 * is the same histogram over an idle wait of the same total length (the timer's own noise).
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { measurement } from '../lib/measure.js';
import { since } from '../lib/stats.js';

export async function eventLoopDelay(ctx) {
  const { mover, params, big } = ctx;
  ctx.log(`event-loop delay: ${params.eventLoopCopies} async copies of ${big.size / (1024 * 1024)} MiB, then an idle baseline`);
  const busy = monitorEventLoopDelay({ resolution: 1 });
  await mover.copy(big.dst, big.src); // warm-up, outside the histogram
  const t0 = process.hrtime.bigint();
  busy.enable();
  for (let i = 0; i < params.eventLoopCopies; i++) await mover.copy(big.dst, big.src);
  busy.disable();
  const copySeconds = since(t0);

  const idle = monitorEventLoopDelay({ resolution: 1 });
  idle.enable();
  await sleep(Math.max(50, copySeconds * 1000));
  idle.disable();

  const ms = (ns) => ns / 1e6;
  const applies = ctx.engine === 'native';
  const note = `${busy.count} timer samples over ${(copySeconds * 1000).toFixed(0)} ms of copying`;
  return [
    measurement({
      id: 'eventLoop.max',
      title: `event-loop delay max during copies`,
      unit: 'ms',
      better: 'lower',
      samples: [ms(busy.max)],
      peer: { name: 'idle event loop', samples: [ms(idle.max)] },
      target: { on: 'value', op: '<', value: 5 },
      targetApplies: applies,
      note,
    }),
    measurement({
      id: 'eventLoop.p99',
      title: `event-loop delay p99 during copies`,
      unit: 'ms',
      better: 'lower',
      samples: [ms(busy.percentile(99))],
      peer: { name: 'idle event loop', samples: [ms(idle.percentile(99))] },
      target: { on: 'value', op: '<', value: 5 },
      targetApplies: applies,
      note: 'values include the 1 ms timer period',
    }),
  ];
}
