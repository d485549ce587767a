// Region factories for terminate-rounds.test.ts (conformance's TerminateRegionFactory), called in
// the terminated worker as factory(mover, size, options).

/** A JS-heap region: wrap() of a fresh Uint8Array, so the factory path carries a copy like alloc(). */
export function wrapped(mover, size) {
  return mover.wrap(new Uint8Array(size));
}

/** A factory that fails: the round must fail, not hang or pass. */
export async function fails(_mover, _size, options) {
  throw new Error(`no region: ${options.why}`);
}
