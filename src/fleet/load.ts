import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, posix, resolve } from 'node:path';
import { UserError } from '../errors.js';
import { containerConfigFrom, hostSettingsFrom, HOST_DEFAULTS, mergeUnder } from './defaults.js';
import { SYNCED_TYPES } from './model.js';
import type { ContainerSpec, Diagnostic, Fleet, HostSpec, Locator, SyncedType, TreeEntry } from './model.js';
import { isDnsLabel } from './names.js';
import { displayPath, findRepoRoot } from './repo.js';
import { schemaIssues } from './schema.js';
import type { SchemaKind } from './schema.js';
import { byName, readTree } from './tree.js';
import { MISS, openParseCache, repoCacheDir } from './parse-cache.js';
import type { ParseCache } from './parse-cache.js';
import { lazyLocator, parseYaml } from './yaml.js';

export interface LoadOptions {
  /** The directory relative paths (and `--fleet`) are resolved from; messages print paths relative to it. */
  cwd: string;
  /** `--fleet DIR`: the fleet root, overriding man8s.yaml `fleet:` and the default `hosts`. */
  fleet?: string;
  /**
   * Use the YAML parse cache (parse-cache.ts) in `<repo>/.man8s/cache` when the repo is a git work tree
   * (the CLI does). Off by default: every file is parsed, which is what tests want.
   */
  cache?: boolean;
  /** Use the parse cache in this folder instead (benchmarks, tests). */
  cacheDir?: string;
}

export interface LoadResult {
  fleet: Fleet;
  /** Every file-level problem found (YAML, schema, names, trees, file mounts), sorted by file and line. */
  diagnostics: Diagnostic[];
}

export const FLEET_SETTINGS_FILE = 'man8s.yaml';
export const HOST_FILE = 'host.yaml';
export const DEFAULT_FLEET_ROOT = 'hosts';

type Json = Record<string, any>;

/** Reads and validates the fleet repo. Async for callers' sake; the work is synchronous (see loadFleetSync). */
export async function loadFleet(opts: LoadOptions): Promise<LoadResult> {
  return loadFleetSync(opts);
}

/**
 * Reads the whole fleet from disk: man8s.yaml, every host.yaml and container.yaml, and the conf/plugin
 * trees. Synchronous on purpose: the files are small and many, and sequential sync reads beat thousands
 * of scheduled promises (see bench/validate-render.ts). Problems the user can fix in a file are returned
 * as diagnostics so one run reports all of them; only a missing fleet root throws (UserError).
 */
export function loadFleetSync(opts: LoadOptions): LoadResult {
  const cwd = resolve(opts.cwd);
  const explicitRoot = opts.fleet !== undefined ? resolve(cwd, opts.fleet) : undefined;
  const repoRoot = findRepoRoot(cwd, explicitRoot);
  const ctx: Ctx = { cwd, repoRoot, diagnostics: [] };

  const settings = readFleetSettings(ctx, repoRoot);
  const root = explicitRoot ?? resolve(repoRoot, settings.fleet ?? DEFAULT_FLEET_ROOT);
  assertFleetRoot(ctx, root, explicitRoot !== undefined, settings.fleet !== undefined);
  const cacheDir = opts.cacheDir ?? (opts.cache ? repoCacheDir(repoRoot) : undefined);
  if (cacheDir) ctx.cache = openParseCache(cacheDir, root, yamlVersion());

  const hosts = new Map<string, HostSpec>();
  for (const name of readdirSync(root).sort()) {
    // Dot folders (.git, .github) and plain files (README.md) are not hosts.
    if (name.startsWith('.') || !isDirectory(join(root, name))) continue;
    const host = loadHost(ctx, join(root, name), name, settings.defaults);
    if (host) hosts.set(name, host);
  }
  ctx.cache?.save();
  return { fleet: { repoRoot, root, hosts }, diagnostics: sortDiagnostics(ctx.diagnostics) };
}

interface Ctx {
  cwd: string;
  repoRoot: string;
  diagnostics: Diagnostic[];
  cache?: ParseCache;
}

function yamlVersion(): string {
  return createRequire(import.meta.url)('yaml/package.json').version;
}

/** Parses a YAML file, or takes its data from the parse cache when this exact text parsed cleanly before. */
function parseFile(ctx: Ctx, text: string, file: string) {
  const cached = ctx.cache ? ctx.cache.get(text) : MISS;
  // The locator is only needed for messages: on a cache hit it parses the text the first time it is used.
  if (cached !== MISS) return { data: cached, at: lazyLocator(text), diagnostics: [], ok: true };
  const parsed = parseYaml(text, file);
  if (parsed.ok && parsed.diagnostics.length === 0) ctx.cache?.set(text, parsed.data);
  return parsed;
}

interface FleetSettings {
  fleet?: string;
  defaults: Json;
}

function readFleetSettings(ctx: Ctx, repoRoot: string): FleetSettings {
  const abs = join(repoRoot, FLEET_SETTINGS_FILE);
  if (!existsSync(abs)) return { defaults: {} };
  const parsed = readValidated(ctx, abs, 'man8s');
  if (!parsed.valid) return { defaults: {} };
  const data = (parsed.data ?? {}) as Json;
  return { fleet: data.fleet, defaults: data.defaults ?? {} };
}

function assertFleetRoot(ctx: Ctx, root: string, explicit: boolean, fromSettings: boolean): void {
  const shown = displayPath(ctx.cwd, root);
  const origin = explicit ? '--fleet' : fromSettings ? `fleet: in ${FLEET_SETTINGS_FILE}` : 'the default fleet root';
  if (!existsSync(root)) {
    throw new UserError(
      `fleet root ${shown} (${origin}) does not exist; pass --fleet DIR, set fleet: in ${FLEET_SETTINGS_FILE}, or create ${shown}/<host>/${HOST_FILE}`,
    );
  }
  if (!isDirectory(root)) {
    throw new UserError(`fleet root ${shown} (${origin}) is not a folder; point --fleet at the folder with one folder per host`);
  }
  // A common slip: --fleet hosts/relink. Its conf/ and plugin/ would each be reported as a host without host.yaml.
  if (existsSync(join(root, HOST_FILE))) {
    throw new UserError(
      `fleet root ${shown} (${origin}) holds a ${HOST_FILE}, so it is a host folder; point --fleet at the folder with one folder per host (its parent)`,
    );
  }
}

/** A parsed file that passed its schema (`valid`), with its locator; failures are already reported. */
interface Validated {
  data: unknown;
  at: Locator;
  valid: boolean;
}

function readValidated(ctx: Ctx, abs: string, kind: SchemaKind): Validated {
  const file = displayPath(ctx.cwd, abs);
  let text: string;
  try {
    text = readFileSync(abs, 'utf8');
  } catch (err) {
    // A folder named container.yaml, a dangling symlink, no read permission: the user's to fix, not a crash.
    const reason = (err as NodeJS.ErrnoException).code === 'EISDIR' ? 'it is a folder' : (err as Error).message;
    ctx.diagnostics.push({ file, line: 1, col: 1, message: `cannot read ${file}: ${reason}` });
    return { data: undefined, at: () => ({ line: 1, col: 1 }), valid: false };
  }
  const parsed = parseFile(ctx, text, file);
  ctx.diagnostics.push(...parsed.diagnostics);
  if (!parsed.ok) return { data: undefined, at: parsed.at, valid: false };
  // An empty file is an empty map: "missing required key" reads better than "must be a map, got nothing".
  const data = parsed.data ?? {};
  const issues = schemaIssues(kind, data);
  for (const issue of issues) {
    const { line, col } = parsed.at(issue.path, issue.key);
    ctx.diagnostics.push({ file, line, col, message: issue.message });
  }
  return { data, at: parsed.at, valid: issues.length === 0 && parsed.diagnostics.length === 0 };
}

function loadHost(ctx: Ctx, dir: string, name: string, defaults: Json): HostSpec | undefined {
  const abs = join(dir, HOST_FILE);
  const file = displayPath(ctx.cwd, abs);
  if (!existsSync(abs)) {
    ctx.diagnostics.push({
      file,
      line: 1,
      col: 1,
      message: `missing ${HOST_FILE}: every folder in the fleet root is a host (it needs at least yggaddr:); add one or move the folder out`,
    });
    return undefined;
  }
  const parsed = readValidated(ctx, abs, 'host');
  const own: Json = isPlainMap(parsed.data) ? parsed.data : {};
  const merged = mergeUnder(defaults, own);
  if (!parsed.valid) {
    // The host stays out of the fleet, but its containers are still checked so one run shows everything.
    const configFile = typeof merged.config_file === 'string' && !merged.config_file.includes('/') ? merged.config_file : HOST_DEFAULTS.config_file;
    loadContainers(ctx, dir, name, configFile);
    return undefined;
  }
  const settings = hostSettingsFrom(name, merged, ctx.repoRoot);
  const { containers, broken } = loadContainers(ctx, dir, name, settings.config_file);
  return { name, dir, file, at: parsed.at, settings, containers, broken };
}

function loadContainers(ctx: Ctx, hostDir: string, host: string, configFile: string) {
  const containers = new Map<string, ContainerSpec>();
  const broken = new Set<string>();
  const report = (abs: string, message: string, at?: { line: number; col: number }) =>
    ctx.diagnostics.push({ file: displayPath(ctx.cwd, abs), line: at?.line ?? 1, col: at?.col ?? 1, message });

  const confNames = listFolders(ctx, hostDir, 'conf', report);
  for (const name of confNames) {
    const folder = join(hostDir, 'conf', name);
    const configAbs = join(folder, configFile);
    if (!isDnsLabel(name)) {
      report(
        folder,
        `container name "${name}" (the folder name) must be a DNS label: lowercase letters, digits and "-", starting and ending with a letter or digit, at most 63 characters`,
      );
      broken.add(name);
      continue;
    }
    const trees = readTrees(hostDir, name, report);
    if (!existsSync(configAbs)) {
      report(configAbs, `missing ${configFile}: every folder under conf/ is a container; add ${configFile} (at least image:) or remove conf/${name}`);
      broken.add(name);
      continue;
    }
    const parsed = readValidated(ctx, configAbs, 'container');
    if (!parsed.valid) {
      broken.add(name);
      continue;
    }
    const config = containerConfigFrom(parsed.data as Json);
    const spec: ContainerSpec = { name, host, file: displayPath(ctx.cwd, configAbs), at: parsed.at, config, trees };
    checkFileMounts(spec, hostDir, (message, at) => report(configAbs, message, at));
    containers.set(name, spec);
  }

  const confSet = new Set(confNames);
  for (const name of listFolders(ctx, hostDir, 'plugin', report)) {
    if (!confSet.has(name)) {
      report(
        join(hostDir, 'plugin', name),
        `plugin/${name} has no container: there is no conf/${name}/${configFile}; add the container or remove plugin/${name}`,
      );
    }
  }
  return { containers, broken };
}

/** Folder names under `<host>/<type>/`, sorted; anything else there is reported (it would be synced as junk). */
function listFolders(ctx: Ctx, hostDir: string, type: SyncedType, report: (abs: string, message: string) => void): string[] {
  const dir = join(hostDir, type);
  if (!existsSync(dir)) return [];
  if (!isDirectory(dir)) {
    report(dir, `${type} must be a folder with one folder per container`);
    return [];
  }
  const names: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort(byName)) {
    if (entry.isDirectory()) names.push(entry.name);
    else report(join(dir, entry.name), `${type}/${entry.name} is not a folder: ${type}/ may only hold one folder per container`);
  }
  return names;
}

function readTrees(hostDir: string, name: string, report: (abs: string, message: string) => void): Record<SyncedType, TreeEntry[]> {
  const trees = {} as Record<SyncedType, TreeEntry[]>;
  for (const type of SYNCED_TYPES) {
    const dir = join(hostDir, type, name);
    if (!isDirectory(dir)) {
      trees[type] = [];
      continue;
    }
    const tree = readTree(dir, `${type}/${name}`);
    for (const problem of tree.problems) report(join(dir, problem.path), problem.message);
    trees[type] = tree.entries;
  }
  return trees;
}

/**
 * A `file: true` conf/plugin mount with the default source is bind-mounted from the synced tree, and a
 * file mount is never created on the host: the file must be in the repo, or the container fails to start.
 */
function checkFileMounts(spec: ContainerSpec, hostDir: string, report: (message: string, at: { line: number; col: number }) => void): void {
  for (const type of SYNCED_TYPES) {
    for (const [target, entry] of Object.entries(spec.config.mount[type])) {
      if (entry.file !== true || entry.source !== undefined) continue;
      // Relative or `..` targets are the Man8S rules' error; there is no repo file to look for.
      if (!target.startsWith('/') || target.split('/').includes('..')) continue;
      const inner = posix.normalize(target).replace(/^\/+/, '').replace(/\/+$/, '');
      const rel = `${type}/${spec.name}/${inner}`;
      // Located only on error: with the parse cache, locating means parsing the file.
      const at = () => spec.at(['mount', type, target, 'file']);
      const abs = join(hostDir, type, spec.name, inner);
      let st;
      try {
        st = statSync(abs);
      } catch {
        report(`mount ${type} ${target} has file: true but ${rel} is not in the repo; add the file (a file mount is never created)`, at());
        continue;
      }
      if (!st.isFile()) report(`mount ${type} ${target} has file: true but ${rel} is ${st.isDirectory() ? 'a folder, not' : 'not'} a regular file`, at());
    }
  }
}

const isPlainMap = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

function isDirectory(abs: string): boolean {
  // throwIfNoEntry: most containers have no plugin/ folder, and a thrown ENOENT costs more than the stat.
  return statSync(abs, { throwIfNoEntry: false })?.isDirectory() ?? false;
}

export function sortDiagnostics(diagnostics: Diagnostic[]): Diagnostic[] {
  return [...diagnostics].sort((a, b) =>
    a.file !== b.file ? (a.file < b.file ? -1 : 1) : a.line !== b.line ? a.line - b.line : a.col - b.col,
  );
}
