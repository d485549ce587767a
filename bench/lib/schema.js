/**
 * A small JSON Schema (draft 2020-12) validator for bench/schema/result.schema.json. It knows the
 * keywords that schema uses and refuses any other, so a schema edit cannot silently go unchecked:
 * type, enum, const, properties, required, additionalProperties, items, minItems, maxItems,
 * minimum, minLength, pattern, oneOf, anyOf, $ref (to #/$defs/…), plus the annotations $schema,
 * $id, $defs, title, description.
 *
 *   node bench/lib/schema.js <result.json>...     validates files; exit 1 on the first invalid one
 */
import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const SCHEMA_PATH = fileURLToPath(new URL('../schema/result.schema.json', import.meta.url));

const ANNOTATIONS = new Set(['$schema', '$id', '$defs', 'title', 'description', '$comment']);
const KEYWORDS = new Set(['type', 'enum', 'const', 'properties', 'required', 'additionalProperties', 'items', 'minItems', 'maxItems', 'minimum', 'maximum', 'minLength', 'pattern', 'oneOf', 'anyOf', '$ref']);

function typeOf(v) {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

function typeMatches(v, t) {
  const actual = typeOf(v);
  return actual === t || (t === 'number' && actual === 'integer');
}

const equal = (a, b) => JSON.stringify(a) === JSON.stringify(b);

/**
 * Validates `value` against `schema`; returns a list of errors (`{ path, message }`), empty when
 * valid. At most `limit` errors are collected.
 */
export function validate(value, schema, { limit = 20 } = {}) {
  const errors = [];
  const root = schema;
  const resolve = (ref) => {
    if (!ref.startsWith('#/')) throw new Error(`unsupported $ref ${ref}: only local references`);
    return ref
      .slice(2)
      .split('/')
      .reduce((node, key) => {
        const next = node?.[key.replace(/~1/g, '/').replace(/~0/g, '~')];
        if (next === undefined) throw new Error(`unresolvable $ref ${ref}`);
        return next;
      }, root);
  };

  // Returns true when valid; pushes errors into `out`.
  function check(v, s, path, out) {
    if (s === true) return true;
    if (s === false) {
      out.push({ path, message: 'no value is allowed here' });
      return false;
    }
    for (const k of Object.keys(s)) if (!KEYWORDS.has(k) && !ANNOTATIONS.has(k)) throw new Error(`schema keyword "${k}" at ${path || '/'} is not supported by bench/lib/schema.js`);
    const before = out.length;
    const fail = (message) => out.push({ path: path || '/', message });
    if (s.$ref) check(v, resolve(s.$ref), path, out);
    if (s.type !== undefined) {
      const types = Array.isArray(s.type) ? s.type : [s.type];
      if (!types.some((t) => typeMatches(v, t))) {
        fail(`expected ${types.join(' or ')}, got ${typeOf(v)}`);
        return false;
      }
    }
    if (s.enum && !s.enum.some((e) => equal(e, v))) fail(`expected one of ${JSON.stringify(s.enum)}, got ${JSON.stringify(v)}`);
    if ('const' in s && !equal(s.const, v)) fail(`expected ${JSON.stringify(s.const)}, got ${JSON.stringify(v)}`);
    if (typeof v === 'number') {
      if (s.minimum !== undefined && v < s.minimum) fail(`${v} is below the minimum ${s.minimum}`);
      if (s.maximum !== undefined && v > s.maximum) fail(`${v} is above the maximum ${s.maximum}`);
    }
    if (typeof v === 'string') {
      if (s.minLength !== undefined && [...v].length < s.minLength) fail(`shorter than ${s.minLength} characters`);
      if (s.pattern !== undefined && !new RegExp(s.pattern, 'u').test(v)) fail(`does not match ${s.pattern}`);
    }
    if (Array.isArray(v)) {
      if (s.minItems !== undefined && v.length < s.minItems) fail(`fewer than ${s.minItems} items`);
      if (s.maxItems !== undefined && v.length > s.maxItems) fail(`more than ${s.maxItems} items`);
      if (s.items !== undefined) v.forEach((item, i) => check(item, s.items, `${path}/${i}`, out));
    }
    if (typeOf(v) === 'object') {
      for (const r of s.required ?? []) if (!(r in v)) fail(`missing required property "${r}"`);
      const props = s.properties ?? {};
      for (const [k, item] of Object.entries(v)) {
        if (k in props) check(item, props[k], `${path}/${k}`, out);
        else if (s.additionalProperties !== undefined) {
          if (s.additionalProperties === false) fail(`unexpected property "${k}"`);
          else check(item, s.additionalProperties, `${path}/${k}`, out);
        }
      }
    }
    if (s.anyOf) {
      const branches = s.anyOf.map((b) => {
        const e = [];
        check(v, b, path, e);
        return e;
      });
      if (!branches.some((e) => e.length === 0)) fail(`matches none of anyOf: ${branches.map((e) => e[0]?.message).join('; ')}`);
    }
    if (s.oneOf) {
      const branches = s.oneOf.map((b) => {
        const e = [];
        check(v, b, path, e);
        return e;
      });
      const passing = branches.filter((e) => e.length === 0).length;
      if (passing !== 1) {
        const best = branches.reduce((a, b) => (b.length < a.length ? b : a));
        fail(passing === 0 ? `matches none of oneOf; closest: ${best.map((e) => `${e.path}: ${e.message}`).slice(0, 3).join('; ')}` : `matches ${passing} branches of oneOf, expected exactly one`);
      }
    }
    return out.length === before;
  }

  check(value, schema, '', errors);
  return errors.slice(0, limit);
}

export function loadSchema() {
  return JSON.parse(readFileSync(SCHEMA_PATH, 'utf8'));
}

/** Validates one run record against bench/schema/result.schema.json. */
export function validateResult(run) {
  return validate(run, loadSchema());
}

const isMain = process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  const files = process.argv.slice(2);
  if (files.length === 0) {
    process.stderr.write('usage: node bench/lib/schema.js <result.json>...\n');
    process.exitCode = 2;
  }
  for (const f of files) {
    const errors = validateResult(JSON.parse(readFileSync(f, 'utf8')));
    if (errors.length) {
      process.stderr.write(`${f}: invalid\n${errors.map((e) => `  ${e.path}: ${e.message}`).join('\n')}\n`);
      process.exitCode = 1;
      break;
    }
    process.stdout.write(`${f}: valid\n`);
  }
}
