/**
 * One measured quantity: Datamover's samples, a peer's samples measured in the same run, the
 * ratio of their medians (Datamover / peer) and, where the issue sets one, a target.
 */
import { summarize } from './stats.js';

/**
 * @param {object} m
 * @param {string} m.id            stable key in the JSON results
 * @param {string} m.title         row label in the table
 * @param {string} m.unit          'GB/s', 'M desc/s', 'ms', 'µs'
 * @param {'higher'|'lower'} m.better
 * @param {number[]} m.samples     Datamover's samples, in `unit`
 * @param {'median'|'max'|'p99'} [m.stat]   which statistic is the headline (default median)
 * @param {{ name: string, samples: number[] } | null} [m.peer]
 * @param {{ on: 'ratio'|'value', op: '>='|'<', value: number } | null} [m.target]
 * @param {boolean} [m.targetApplies]  false: report the target but judge nothing (e.g. TS engine)
 * @param {string} [m.note]
 */
export function measurement({ id, title, unit, better, samples, stat = 'median', peer = null, target = null, targetApplies = true, note = '' }) {
  const datamover = { ...summarize(samples), samples };
  const value = datamover[stat];
  const peerSummary = peer ? { name: peer.name, ...summarize(peer.samples), samples: peer.samples } : null;
  const peerValue = peerSummary ? peerSummary[stat] : null;
  const ratio = peerValue ? value / peerValue : null;
  let pass = null;
  if (target && targetApplies) {
    const x = target.on === 'ratio' ? ratio : value;
    if (x !== null && Number.isFinite(x)) pass = target.op === '>=' ? x >= target.value : x < target.value;
  }
  return { id, title, unit, better, stat, value, datamover, peer: peerSummary, peerValue, ratio, target, pass, note };
}
