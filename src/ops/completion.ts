/**
 * Shell completion of host and container names, from the fleet's folders alone: completion runs on every
 * Tab, so it reads no YAML beyond man8s.yaml's `fleet:`, contacts no host, and never fails (no fleet
 * here means no names, and the shell falls back to commands and options).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { DEFAULT_FLEET_ROOT, FLEET_SETTINGS_FILE, HOST_FILE } from '../fleet/load.js';
import { findRepoRoot } from '../fleet/repo.js';

/** Container names per host, hosts in name order. */
export type FleetNames = Map<string, string[]>;

function folders(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
      .map((e) => e.name)
      .sort();
  } catch {
    return [];
  }
}

/** The fleet root as the loader finds it (`--fleet`, man8s.yaml `fleet:`, else hosts/), without validating anything. */
function fleetRoot(cwd: string, fleet: string | undefined): string {
  if (fleet !== undefined) return resolve(cwd, fleet);
  const repoRoot = findRepoRoot(cwd);
  let configured: unknown;
  try {
    const file = join(repoRoot, FLEET_SETTINGS_FILE);
    if (existsSync(file)) configured = (parse(readFileSync(file, 'utf8')) as { fleet?: unknown } | null)?.fleet;
  } catch {
    // an unreadable man8s.yaml is validate's business, not completion's
  }
  return resolve(repoRoot, typeof configured === 'string' ? configured : DEFAULT_FLEET_ROOT);
}

/** Hosts (folders with a host.yaml) and their containers (folders under conf/). */
export function readFleetNames(cwd: string, fleet?: string): FleetNames {
  const names: FleetNames = new Map();
  try {
    const root = fleetRoot(cwd, fleet);
    for (const host of folders(root)) {
      if (existsSync(join(root, host, HOST_FILE)) && statSync(join(root, host, HOST_FILE)).isFile()) names.set(host, folders(join(root, host, 'conf')));
    }
  } catch {
    // completion never fails loudly
  }
  return names;
}

type Slot = 'host' | 'container' | 'container-on-host';

/** What each command's positionals name; `rest` repeats for a variadic last positional. */
const POSITIONALS: Record<string, { slots: Slot[]; rest?: Slot }> = {
  ls: { slots: [], rest: 'host' },
  status: { slots: [], rest: 'host' },
  plan: { slots: [], rest: 'host' },
  deploy: { slots: [], rest: 'host' },
  doctor: { slots: [], rest: 'host' },
  setup: { slots: [], rest: 'host' },
  unlock: { slots: ['host'] },
  gc: { slots: ['host'] },
  nerdctl: { slots: ['host'] },
  ssh: { slots: ['host'] },
  render: { slots: ['host', 'container-on-host'] },
  logs: { slots: ['container'] },
  shell: { slots: ['container'] },
  exec: { slots: ['container'] },
  start: { slots: [], rest: 'container' },
  stop: { slots: [], rest: 'container' },
  restart: { slots: [], rest: 'container' },
  pull: { slots: [], rest: 'container' },
  migrate: { slots: ['container', 'host', 'host'] },
};

/**
 * How an operator types a container: its name when one host has it, `host/name` when several do (or
 * when they started typing a host and a slash).
 */
function containerRefs(names: FleetNames, current: string): Array<{ word: string; host: string }> {
  const hostsOf = new Map<string, string[]>();
  for (const [host, containers] of names) for (const c of containers) hostsOf.set(c, [...(hostsOf.get(c) ?? []), host]);
  const refs: Array<{ word: string; host: string }> = [];
  for (const [name, hosts] of [...hostsOf].sort(([a], [b]) => a.localeCompare(b))) {
    if (hosts.length === 1 && !current.includes('/')) refs.push({ word: name, host: hosts[0]! });
    else for (const host of hosts) refs.push({ word: `${host}/${name}`, host });
  }
  return refs;
}

/**
 * Pure: the names to offer for the word being completed, or null when it is not a host or container
 * (an option, a command, a free argument): then yargs's own completion answers. `words` are the
 * positional words yargs parsed (program name first, the word being completed last); `zsh` adds the
 * `name:description` form zsh's _describe shows.
 */
export function completeNames(words: readonly string[], current: string, names: FleetNames, zsh: boolean): string[] | null {
  if (current.startsWith('-') || names.size === 0) return null;
  // When the word is not the last positional, it is an option's value (--engine d…): not a name.
  if (words.length < 3 || String(words[words.length - 1]) !== current) return null;
  const [, command, ...rest] = words.map(String);
  const spec = command ? POSITIONALS[command] : undefined;
  if (!spec) return null;
  const typed = rest.slice(0, -1);
  const slot = spec.slots[typed.length] ?? (typed.length >= spec.slots.length ? spec.rest : undefined);
  if (!slot) return null;
  const shown = (word: string, what: string): string => (zsh ? `${word}:${what}` : word);
  if (slot === 'host') return [...names.keys()].map((h) => shown(h, 'host'));
  if (slot === 'container-on-host') return (names.get(typed[0] ?? '') ?? []).map((c) => shown(c, `container on ${typed[0]}`));
  // migrate takes the bare name and the hosts separately.
  if (command === 'migrate') return [...new Set([...names.values()].flat())].sort((a, b) => a.localeCompare(b)).map((c) => shown(c, 'container'));
  return containerRefs(names, current).map((r) => shown(r.word, `container on ${r.host}`));
}
