import type { ErrorObject } from 'ajv';
import type { SchemaIssue } from './schema.js';

/**
 * Turns one ajv error into a message a person reads next to the offending line: the config path in
 * quotes, what it must be, and what it was. Returns undefined for errors that only repeat another one.
 */
export function describeSchemaError(err: ErrorObject, root: unknown): SchemaIssue | undefined {
  const path = decodeInstancePath(err.instancePath, root);
  const where = formatConfigPath(path);
  const subject = where ? `"${where}"` : 'the file';
  const parent = (err.parentSchema ?? {}) as Record<string, any>;
  const data: unknown = err.data;
  const got = `, got ${show(data)}`;
  const p = err.params as Record<string, any>;

  switch (err.keyword) {
    case 'additionalProperties': {
      const unknown = String(p.additionalProperty);
      const known = Object.keys(parent.properties ?? {});
      const inside = where ? ` in "${where}"` : '';
      return { path: [...path, unknown], key: true, message: `unknown key "${unknown}"${inside}${suggest(unknown, known)}` };
    }
    case 'required': {
      const inside = where ? ` in "${where}"` : '';
      return { path, key: false, message: `missing required key "${p.missingProperty}"${inside}` };
    }
    case 'type': {
      if (typeof parent.errorMessage === 'string') return { path, key: false, message: `${subject} must be ${parent.errorMessage}${got}` };
      if (typeof parent.patternErrorMessage === 'string' && typeof data === 'number') {
        // perm: 755 unquoted is the number 755 (and 0640 the number 640) in YAML 1.2.
        return { path, key: false, message: `${subject} must be a quoted string, ${parent.patternErrorMessage}${got} (a number: add quotes)` };
      }
      if (!where) return { path, key: false, message: `the file must hold a map of keys (key: value)${got}` };
      const names = String(p.type).split(',').map((t) => (t === 'boolean' && String(p.type).includes(',') ? 'a boolean' : typeName(t)));
      const expected = names.length > 1 ? `${names.slice(0, -1).join(', ')} or ${names.at(-1)}` : names[0];
      return { path, key: false, message: `${subject} must be ${expected}${got}` };
    }
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum': {
      const range =
        typeof parent.minimum === 'number' && typeof parent.maximum === 'number'
          ? `between ${parent.minimum} and ${parent.maximum}`
          : err.keyword === 'minimum'
            ? `at least ${p.limit}`
            : err.keyword === 'maximum'
              ? `at most ${p.limit}`
              : `${p.comparison} ${p.limit}`;
      return { path, key: false, message: `${subject} must be ${range}${got}` };
    }
    case 'enum':
      return { path, key: false, message: `${subject} must be one of ${(p.allowedValues as unknown[]).join(', ')}${got}` };
    case 'pattern':
      return {
        path,
        key: false,
        message: `${subject} must be ${typeof parent.patternErrorMessage === 'string' ? parent.patternErrorMessage : `text matching ${p.pattern}`}${got}`,
      };
    case 'format':
      return { path, key: false, message: `${subject} must be ${FORMAT_NAMES[p.format] ?? `a valid ${p.format}`}${got}` };
    case 'minLength':
      if (p.limit === 1) return { path, key: false, message: `${subject} must not be empty` };
      return { path, key: false, message: `${subject} must be at least ${p.limit} characters long${got}` };
    case 'minItems':
    case 'maxItems':
    case 'additionalItems': {
      if (typeof parent.errorMessage === 'string') return { path, key: false, message: `${subject} must be ${parent.errorMessage}${got}` };
      const bound = err.keyword === 'minItems' ? `at least ${p.limit}` : `at most ${p.limit}`;
      return { path, key: false, message: `${subject} must have ${bound} items${got}` };
    }
    case 'uniqueItems': {
      const later = Math.max(Number(p.i), Number(p.j));
      const item = Array.isArray(data) ? data[later] : undefined;
      return { path: [...path, later], key: false, message: `${subject} lists ${show(item)} twice` };
    }
    default:
      return { path, key: false, message: `${subject} ${err.message ?? 'is invalid'}` };
  }
}

const FORMAT_NAMES: Record<string, string> = { ipv6: 'an IPv6 address' };

function typeName(type: string): string {
  switch (type) {
    case 'integer':
      return 'an integer';
    case 'number':
      return 'a number';
    case 'string':
      return 'a string';
    case 'boolean':
      return 'true or false';
    case 'array':
      return 'a list';
    case 'object':
      return 'a map';
    case 'null':
      return 'empty';
    default:
      return type;
  }
}

/** A short rendering of a YAML value for messages: scalars as JSON, collections by kind. */
export function show(value: unknown): string {
  if (value === null || value === undefined) return 'nothing';
  const text = JSON.stringify(value);
  // Short collections are clearer shown ([80]) than named; long ones would drown the message.
  if (Array.isArray(value)) return value.length === 0 ? 'an empty list' : text.length <= 40 ? text : 'a list';
  if (typeof value === 'object') return text.length <= 40 && text !== '{}' ? text : text === '{}' ? 'an empty map' : 'a map';
  return text.length > 60 ? `${text.slice(0, 57)}…` : text;
}

/**
 * JSON pointer (ajv's instancePath) to config path segments; a segment under a list becomes a number,
 * so the locator can index YAML sequences.
 */
export function decodeInstancePath(pointer: string, root: unknown): (string | number)[] {
  if (!pointer) return [];
  const path: (string | number)[] = [];
  let node: unknown = root;
  for (const raw of pointer.slice(1).split('/')) {
    const segment = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(node)) {
      const index = Number(segment);
      path.push(index);
      node = node[index];
    } else {
      path.push(segment);
      node = node && typeof node === 'object' ? (node as Record<string, unknown>)[segment] : undefined;
    }
  }
  return path;
}

/** `port[1][0]`, `mount.conf[/etc/nginx].perm`: dots for plain keys, brackets for indices and paths. */
export function formatConfigPath(path: ReadonlyArray<string | number>): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number' || !/^[A-Za-z_][A-Za-z0-9_-]*$/.test(segment)) out += `[${segment}]`;
    else out += out ? `.${segment}` : segment;
  }
  return out;
}

/** ` (did you mean "image"?)` for a likely typo, else the known keys when there are few. */
function suggest(unknown: string, known: string[]): string {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const distance = editDistance(unknown.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  if (best && bestDistance <= Math.max(1, Math.floor(best.length / 3))) return ` (did you mean "${best}"?)`;
  if (known.length > 0) return ` (known keys: ${known.join(', ')})`;
  return '';
}

function editDistance(a: string, b: string): number {
  // Optimal string alignment: Levenshtein plus adjacent transposition ("imgae" for "image"), the commonest typo.
  let before: number[] = [];
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, before[j - 2]! + 1);
      current[j] = d;
    }
    before = previous;
    previous = current;
  }
  return previous[b.length]!;
}
