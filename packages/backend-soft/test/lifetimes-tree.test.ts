/**
 * Slices form a proper tree (issue 20 item 9): a handle with live slices, at any depth, refuses
 * release() with REGION_BUSY; move() hands the slices to the new handle; nothing is left holding
 * the root busy. Through the public API on both soft engines.
 */
import { ErrorCode, type DatamoverError, type Mover } from '@datamover/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ENGINES, openSoft, pattern } from './helpers.js';

const busy = (n: number) => expect.objectContaining({ code: ErrorCode.REGION_BUSY, message: expect.stringContaining(`${n} live slice(s)`), detail: { slices: n } });

describe.each(ENGINES)('slice tree (%s engine)', (engine) => {
  let m: Mover;
  beforeEach(async () => {
    m = await openSoft(engine);
  });
  afterEach(() => m.close());

  it('a slice with a live sub-slice refuses release; released leaf first, the root is free again', async () => {
    const root = m.wrap(pattern(100));
    const s = root.slice(10, 50);
    const ss = s.slice(5, 10);
    await expect(s.release()).rejects.toEqual(busy(1));
    expect(s.live).toBe(true);
    await m.fill(ss, 7);
    expect(root.bytes().subarray(15, 25)).toEqual(new Uint8Array(10).fill(7));
    await expect(root.release()).rejects.toEqual(busy(1));
    await ss.release();
    await s.release();
    await root.release();
    expect(m.stats().regions).toBe(0);
  });

  it('the refusal counts the live children', async () => {
    const root = m.wrap(pattern(100));
    const kids = [root.slice(0, 10), root.slice(10, 10), root.slice(20, 10)];
    await expect(root.release()).rejects.toEqual(busy(3));
    await kids[1]!.release();
    await expect(root.release()).rejects.toEqual(busy(2));
  });

  it('a moved slice keeps its sub-slices: the new handle refuses release while they live', async () => {
    const root = m.wrap(pattern(100));
    const s = root.slice(0, 50);
    const ss = s.slice(0, 10);
    const s2 = s.move();
    await expect(s2.release()).rejects.toEqual(busy(1));
    await expect(s.release()).rejects.toMatchObject({ code: ErrorCode.USE_AFTER_MOVE });
    await m.fill(ss, 3); // still usable: its parent was moved, not released
    await ss.release();
    await s2.release();
    await expect(m.fill(ss, 3)).rejects.toMatchObject({ code: ErrorCode.REGION_RELEASED });
    await root.release();
    expect(m.stats().regions).toBe(0);
  });

  it('moving a root hands its slices to the new root', async () => {
    const root = m.wrap(pattern(100));
    const s = root.slice(40, 20);
    const r2 = root.move();
    await expect(r2.release()).rejects.toEqual(busy(1));
    const ss = s.slice(0, 4);
    expect(ss.bytes()).toEqual(pattern(100).subarray(40, 44));
    await ss.release();
    await s.release();
    await r2.release();
    expect(m.stats().regions).toBe(0);
  });

  it('moveInto refuses a source with live slices before a byte is copied', async () => {
    const src = m.wrap(pattern(64));
    const s = src.slice(0, 8);
    const dst = m.wrap(new Uint8Array(64));
    const e = (await m.moveInto(dst, src).catch((x: unknown) => x)) as DatamoverError;
    expect(e).toEqual(busy(1));
    expect(dst.bytes()).toEqual(new Uint8Array(64));
    expect(src.live).toBe(true);
    await s.release();
    await m.moveInto(dst, src);
    expect(dst.bytes()).toEqual(pattern(64));
  });

  it('a refused release leaves the tree untouched, and close() releases every level', async () => {
    const root = m.wrap(pattern(100));
    const s = root.slice(0, 50);
    const ss = s.slice(0, 10);
    await expect(s.release()).rejects.toEqual(busy(1));
    await m.close();
    for (const h of [root, s, ss]) {
      expect(h.live).toBe(false);
      expect(() => h.bytes()).toThrow(expect.objectContaining({ code: ErrorCode.REGION_RELEASED }));
    }
    expect(m.stats().regions).toBe(0);
  });
});
