import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * YAML parsing is most of the cost of loading a big fleet (the `yaml` library needs ~0.3 ms for a
 * typical container.yaml, a fleet has a thousand), and between two runs almost no file changes. This
 * cache maps the SHA-256 of a file's text to the plain data it parsed to, so an unchanged file costs a
 * hash instead of a parse. It is only ever a shortcut for the pure function text → data: entries are
 * keyed by content and by the cache format and yaml version, and files with any YAML problem are never
 * stored (they are re-parsed so their diagnostics come back).
 */
export interface ParseCache {
  /** The data `text` parsed to before, or MISS. */
  get(text: string): unknown;
  set(text: string, data: unknown): void;
  /** Writes the entries used by this run (and only those, so the file never grows stale). */
  save(): void;
}

export const MISS: unique symbol = Symbol('parse-cache miss');

const FORMAT = 1;

/**
 * `<repo>/.man8s/cache` when the repo root is a git work tree (the cache lives and dies with the repo,
 * and a `.gitignore` inside keeps it out of commits); undefined outside git, so man8s never litters a plain
 * folder. `MAN8S_NO_CACHE=1` turns caching off.
 */
export function repoCacheDir(repoRoot: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.MAN8S_NO_CACHE === '1' || !existsSync(join(repoRoot, '.git'))) return undefined;
  return join(repoRoot, '.man8s', 'cache');
}

/** One cache file per fleet root, holding the entries of its last run. */
export function openParseCache(dir: string, fleetRoot: string, yamlVersion: string): ParseCache {
  const file = join(dir, `yaml-${createHash('sha256').update(fleetRoot).digest('hex').slice(0, 16)}.json`);
  const stamp = `${FORMAT}/${yamlVersion}`;
  let previous: Record<string, unknown> = {};
  try {
    const stored = JSON.parse(readFileSync(file, 'utf8'));
    if (stored?.stamp === stamp && stored.entries && typeof stored.entries === 'object') previous = stored.entries;
  } catch {
    // No cache yet, or an unreadable one: start empty.
  }
  const used: Record<string, unknown> = Object.create(null);
  let changed = false;
  const key = (text: string) => createHash('sha256').update(text).digest('base64');

  return {
    get(text) {
      const k = key(text);
      if (!Object.hasOwn(previous, k)) return MISS;
      used[k] = previous[k];
      // A fresh copy: callers may keep references into the data, and the next get must not see them.
      return structuredClone(previous[k]);
    },
    set(text, data) {
      if (!isJsonSafe(data)) return;
      used[key(text)] = data;
      changed = true;
    },
    save() {
      if (!changed && Object.keys(used).length === Object.keys(previous).length) return;
      try {
        mkdirSync(dir, { recursive: true });
        const ignore = join(dir, '.gitignore');
        if (!existsSync(ignore)) writeFileSync(ignore, '# man8s parse cache: never commit\n*\n');
        const temp = `${file}.${process.pid}.tmp`;
        writeFileSync(temp, JSON.stringify({ stamp, entries: used }));
        renameSync(temp, file); // atomic: a concurrent run reads the old or the new file, never half of one
      } catch {
        // A cache that cannot be written only costs speed.
      }
    },
  };
}

/** True when JSON round-trips the value exactly (no NaN/Infinity, dates, maps, binary, `__proto__` keys). */
function isJsonSafe(value: unknown): boolean {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return true;
  if (typeof value === 'number') return Number.isFinite(value);
  if (Array.isArray(value)) return value.every(isJsonSafe);
  if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.entries(value as Record<string, unknown>).every(([k, v]) => k !== '__proto__' && isJsonSafe(v));
  }
  return false;
}
