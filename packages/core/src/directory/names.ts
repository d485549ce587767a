/**
 * The names a peer directory stores: agent names, region names and key prefixes. One check for
 * every implementation, so a name one directory accepts is a name every directory accepts, and a
 * name can never reach outside its own key (no '/', no '..').
 */
import { datamoverError, ErrorCode } from '../errors.js';

const NAME = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
const PREFIX = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}(\/[A-Za-z0-9_][A-Za-z0-9._-]{0,127}){0,7}$/;

/** `value` if it is a valid agent or region name (1–128 of `A-Za-z0-9._-`, not starting with '.' or '-'); INVALID_ARGUMENT otherwise. */
export function checkName(what: 'agent' | 'region', value: unknown): string {
  if (typeof value !== 'string' || !NAME.test(value)) {
    throw datamoverError(ErrorCode.INVALID_ARGUMENT, `directory: ${what} name must be 1–128 of A-Z a-z 0-9 . _ - (not starting with . or -), got ${JSON.stringify(value)}`);
  }
  return value;
}

/** `value` if it is a valid key prefix (up to 8 '/'-separated names); INVALID_ARGUMENT otherwise. */
export function checkPrefix(value: unknown): string {
  if (typeof value !== 'string' || !PREFIX.test(value)) {
    throw datamoverError(ErrorCode.INVALID_ARGUMENT, `directory: prefix must be up to 8 names joined by '/', got ${JSON.stringify(value)}`);
  }
  return value;
}

/** `value` if it is a usable port (0–65535); INVALID_ARGUMENT otherwise. */
export function checkPort(value: unknown): number {
  if (!Number.isInteger(value) || (value as number) < 0 || (value as number) > 0xffff) {
    throw datamoverError(ErrorCode.INVALID_ARGUMENT, `directory: port must be an integer 0–65535, got ${JSON.stringify(value)}`);
  }
  return value as number;
}

const TOKEN = /^[A-Za-z0-9_-]{1,4096}$/;

/** `value` if it can be a token (1–4096 base64url characters); INVALID_TOKEN otherwise. Its exporter checks the rest. */
export function checkToken(value: unknown): string {
  if (typeof value !== 'string' || !TOKEN.test(value)) throw datamoverError(ErrorCode.INVALID_TOKEN, `directory: a token must be 1–4096 base64url characters, got ${typeof value === 'string' ? `${value.length} characters` : typeof value}`);
  return value;
}

/** Regions as a directory publishes them: name → token, in the order given. */
export type RegionEntries = readonly (readonly [name: string, token: string])[];

/**
 * `entries` checked whole (names as checkName, tokens as checkToken, no name twice): the one check
 * behind every publish, single or batched, so a batch with one bad entry is refused before any of
 * it is written.
 */
export function checkRegions(entries: unknown): RegionEntries {
  if (!Array.isArray(entries)) throw datamoverError(ErrorCode.INVALID_ARGUMENT, `directory: regions must be an array of [name, token], got ${typeof entries}`);
  const seen = new Set<string>();
  return entries.map((e: unknown, i) => {
    if (!Array.isArray(e) || e.length !== 2) throw datamoverError(ErrorCode.INVALID_ARGUMENT, `directory: regions[${i}] must be [name, token]`);
    const name = checkName('region', e[0]);
    if (seen.has(name)) throw datamoverError(ErrorCode.INVALID_ARGUMENT, `directory: region ${name} given twice in one batch`);
    seen.add(name);
    return [name, checkToken(e[1])] as const;
  });
}

/** `names` if it is an array of valid region names; INVALID_ARGUMENT otherwise. */
export function checkRegionNames(names: unknown): readonly string[] {
  if (!Array.isArray(names)) throw datamoverError(ErrorCode.INVALID_ARGUMENT, `directory: names must be an array of region names, got ${typeof names}`);
  for (const n of names) checkName('region', n);
  return names as string[];
}
