/**
 * What a migration moves, as a pure function of the fleet: the group of containers that must travel
 * together, every folder or file their data lives in, the fleet as it will be after the move, and the
 * containers elsewhere whose rendered config changes because a moved container's address changes.
 * No I/O: preflight adds sizes and host facts, the CLI prints it, unit tests pin it.
 */
import { posix } from 'node:path';
import { MOUNT_TYPES, type ContainerSpec, type Fleet, type HostSpec, type MountType } from '../fleet/model.js';
import { checkFleet } from '../man8s/check.js';
import { dependencyLevels } from '../man8s/graph.js';
import { resolveMounts } from '../man8s/mounts.js';
import { desiredHost } from '../man8s/render.js';
import { formatDiagnostic } from '../fleet/model.js';

/**
 * One thing to copy. `storage` units are a container's `<storage>/<type>/<name>` folder (the guide's
 * `--include /*\/NAME`); `custom` units are absolute mount sources outside those folders, copied to the
 * same absolute path on the target.
 */
export type CopyUnit =
  | { kind: 'storage'; type: MountType; name: string; fromPath: string; toPath: string }
  | { kind: 'custom'; container: string; target: string; file: boolean; fromPath: string; toPath: string; sharedWith: string[] };

export interface RequireNeighbour {
  name: string;
  /** How it is tied to the group: `requires app`, `required by app`. */
  why: string;
}

export interface MovePlan {
  name: string;
  from: string;
  to: string;
  /** Every container that moves, in dependency order (required first). */
  group: string[];
  /** Containers on `from` tied to `name` by require (mount references imply require) that are not moving. */
  leftBehind: RequireNeighbour[];
  units: CopyUnit[];
}

function isUnder(path: string, dir: string): boolean {
  const d = dir.replace(/\/+$/, '');
  return path === d || path.startsWith(`${d}/`);
}

/** Two host paths share files: one is the other, or inside it. */
export function overlaps(a: string, b: string): boolean {
  return isUnder(a, b) || isUnder(b, a);
}

/**
 * Everything tied to `name` by `require` on its host, in either direction, transitively: `require` only
 * works on one host, so moving any member alone would break the others.
 */
export function requireComponent(host: HostSpec, name: string): RequireNeighbour[] {
  const seen = new Map<string, string>([[name, '']]);
  const queue = [name];
  while (queue.length > 0) {
    const cur = queue.shift()!;
    const spec = host.containers.get(cur);
    for (const dep of spec?.config.require ?? []) {
      if (!seen.has(dep) && host.containers.has(dep)) {
        seen.set(dep, `required by ${cur}`);
        queue.push(dep);
      }
    }
    for (const other of host.containers.values()) {
      if (!seen.has(other.name) && other.config.require.includes(cur)) {
        seen.set(other.name, `requires ${cur}`);
        queue.push(other.name);
      }
    }
  }
  seen.delete(name);
  return [...seen].map(([n, why]) => ({ name: n, why })).sort((a, b) => a.name.localeCompare(b.name));
}

/** The copy units of a group: the six type folders of each member, then custom sources outside them. */
export function copyUnits(fleet: Fleet, from: string, to: string, group: readonly string[]): CopyUnit[] {
  const src = fleet.hosts.get(from)!;
  const dst = fleet.hosts.get(to)!;
  const fromStorage = src.settings.storage_path.replace(/\/+$/, '');
  const toStorage = dst.settings.storage_path.replace(/\/+$/, '');
  const units: CopyUnit[] = [];
  const owned: string[] = [];
  for (const name of group) {
    for (const type of MOUNT_TYPES) {
      const fromPath = posix.join(fromStorage, type, name);
      owned.push(fromPath);
      units.push({ kind: 'storage', type, name, fromPath, toPath: posix.join(toStorage, type, name) });
    }
  }
  const custom: Extract<CopyUnit, { kind: 'custom' }>[] = [];
  for (const name of group) {
    for (const m of resolveMounts(src, name)) {
      // A reference is the referenced container's folder: moving with it, or the group is refused.
      if (m.sharedFrom) continue;
      const source = m.source.replace(/\/+$/, '') || '/';
      if (owned.some((d) => isUnder(source, d))) continue;
      if (custom.some((c) => isUnder(source, c.fromPath))) continue;
      // An outer source replaces the inner ones it contains: rsync of the outer copies them.
      for (let i = custom.length - 1; i >= 0; i--) if (isUnder(custom[i]!.fromPath, source)) custom.splice(i, 1);
      custom.push({ kind: 'custom', container: name, target: m.target, file: m.file, fromPath: source, toPath: source, sharedWith: [] });
    }
  }
  // A custom path that a container staying on `from` also mounts is copied but never renamed or purged there.
  for (const c of custom) {
    for (const other of src.containers.values()) {
      if (group.includes(other.name)) continue;
      const uses = resolveMounts(src, other.name).some((m) => overlaps(m.source, c.fromPath));
      if (uses) c.sharedWith.push(other.name);
    }
  }
  return [...units, ...custom];
}

/** The migration's shape; throws nothing: a missing container or host is the caller's check. */
export function movePlan(fleet: Fleet, name: string, from: string, to: string, withDeps: boolean): MovePlan {
  const host = fleet.hosts.get(from)!;
  const neighbours = requireComponent(host, name);
  const moving = new Set([name, ...(withDeps ? neighbours.map((n) => n.name) : [])]);
  // Dependency order: what is required comes up first on the target.
  const group = dependencyLevels(host).flat().filter((n) => moving.has(n));
  return {
    name,
    from,
    to,
    group,
    leftBehind: withDeps ? [] : neighbours,
    units: copyUnits(fleet, from, to, group),
  };
}

/**
 * The fleet after the move: the group's specs under `to`, as `git mv` of their conf/plugin folders will
 * make it. New HostSpec and Fleet objects, so the per-object render caches start fresh.
 */
export function movedFleet(fleet: Fleet, group: readonly string[], from: string, to: string): Fleet {
  const src = fleet.hosts.get(from)!;
  const dst = fleet.hosts.get(to)!;
  const newFrom: HostSpec = { ...src, containers: new Map([...src.containers].filter(([n]) => !group.includes(n))) };
  const moved = new Map(dst.containers);
  for (const n of group) {
    const spec = src.containers.get(n)!;
    const file = spec.file.replace(`/${from}/conf/${n}/`, `/${to}/conf/${n}/`);
    moved.set(n, { ...spec, host: to, file } satisfies ContainerSpec);
  }
  const newTo: HostSpec = { ...dst, containers: new Map([...moved].sort(([a], [b]) => a.localeCompare(b))) };
  const hosts = new Map<string, HostSpec>();
  for (const [h, spec] of fleet.hosts) hosts.set(h, h === from ? newFrom : h === to ? newTo : { ...spec });
  return { ...fleet, hosts };
}

export interface AffectedContainer {
  host: string;
  name: string;
}

/**
 * Containers outside the group whose rendered service changes with the move (a `dns` or `local_access`
 * name that now resolves to the new address), compared by spec hash host by host.
 */
export function affectedContainers(before: Fleet, after: Fleet, group: readonly string[], to: string): AffectedContainer[] {
  const out: AffectedContainer[] = [];
  for (const hostName of after.hosts.keys()) {
    const was = new Map(desiredHost(before, hostName).containers.map((c) => [c.name, c.specHash]));
    for (const c of desiredHost(after, hostName).containers) {
      // The moved containers themselves are deployed on the target anyway.
      if (hostName === to && group.includes(c.name)) continue;
      const prev = was.get(c.name);
      if (prev !== undefined && prev !== c.specHash) out.push({ host: hostName, name: c.name });
    }
  }
  return out;
}

/**
 * What the move would break in the fleet's rules (an explicit `from/name` reference, a name that becomes
 * ambiguous, a port already taken on the target…): the moved fleet's diagnostics not present before.
 */
export function moveProblems(before: Fleet, after: Fleet): string[] {
  const had = new Set(checkFleet(before).map((d) => d.message));
  return checkFleet(after)
    .filter((d) => !had.has(d.message))
    .map(formatDiagnostic);
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}
