/**
 * Finding a container by the name an operator types: `name` when only one host has it, `host/name`
 * otherwise. Names are unique per host only (MAN8S-SPEC §5, fleet-wide names), so an ambiguous name is
 * an error that lists the exact `host/name` spellings to use, and an unknown one lists close names.
 */
import { UserError } from '../errors.js';
import type { ContainerSpec, Fleet, HostSpec } from '../fleet/model.js';

export interface FoundContainer {
  host: HostSpec;
  spec: ContainerSpec;
}

/** Levenshtein distance, for "did you mean" suggestions. */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}

/** Up to `max` names close to `wanted`: same name on another host, substrings, then small edit distance. */
export function closeNames(wanted: string, candidates: readonly string[], max = 5): string[] {
  const w = wanted.toLowerCase();
  const scored = candidates
    .map((c) => {
      const bare = (c.includes('/') ? c.slice(c.indexOf('/') + 1) : c).toLowerCase();
      const d = bare.includes(w) || w.includes(bare) ? 0 : editDistance(w, bare);
      return { c, d };
    })
    .filter(({ d }) => d <= Math.max(2, Math.floor(w.length / 3)))
    .sort((a, b) => a.d - b.d || a.c.localeCompare(b.c));
  return scored.slice(0, max).map(({ c }) => c);
}

function allRefs(fleet: Fleet): string[] {
  return [...fleet.hosts.values()].flatMap((h) => [...h.containers.keys()].map((n) => `${h.name}/${n}`));
}

/** `name` or `host/name` → the container in git; a UserError for unknown or ambiguous names. */
export function findContainer(fleet: Fleet, ref: string): FoundContainer {
  const slash = ref.indexOf('/');
  if (slash >= 0) {
    const hostName = ref.slice(0, slash);
    const name = ref.slice(slash + 1);
    const host = fleet.hosts.get(hostName);
    if (!host) {
      throw new UserError(`no host "${hostName}" in the fleet (hosts: ${[...fleet.hosts.keys()].join(', ') || 'none'})`);
    }
    const spec = host.containers.get(name);
    if (spec) return { host, spec };
    const elsewhere = [...fleet.hosts.values()].filter((h) => h.containers.has(name)).map((h) => `${h.name}/${name}`);
    const close = elsewhere.length ? elsewhere : closeNames(name, [...host.containers.keys()].map((n) => `${hostName}/${n}`));
    throw new UserError(`no container "${name}" on ${hostName}${close.length ? `; did you mean ${close.join(', ')}?` : ''}`);
  }
  const hosts = [...fleet.hosts.values()].filter((h) => h.containers.has(ref));
  if (hosts.length === 1) return { host: hosts[0]!, spec: hosts[0]!.containers.get(ref)! };
  if (hosts.length > 1) {
    throw new UserError(`container "${ref}" is on several hosts; say which one: ${hosts.map((h) => `${h.name}/${ref}`).join(', ')}`);
  }
  const close = closeNames(ref, allRefs(fleet));
  throw new UserError(
    `no container "${ref}" in the fleet${close.length ? `; did you mean ${close.join(', ')}?` : ''} (man8s ls --offline lists them all)`,
  );
}

/** Several refs, grouped by host in fleet order (one connection per host), names in the order given. */
export function groupByHost(fleet: Fleet, refs: readonly string[]): Array<{ host: HostSpec; names: string[] }> {
  const byHost = new Map<string, string[]>();
  for (const ref of refs) {
    const { host, spec } = findContainer(fleet, ref);
    const list = byHost.get(host.name) ?? [];
    if (!list.includes(spec.name)) list.push(spec.name);
    byHost.set(host.name, list);
  }
  return [...fleet.hosts.values()].filter((h) => byHost.has(h.name)).map((host) => ({ host, names: byHost.get(host.name)! }));
}
