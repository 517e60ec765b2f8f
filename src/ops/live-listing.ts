/**
 * `man8s ls` live: the fleet-wide `mbctl list`, built from one observe + plan per host (plan/run.ts).
 * Pure: takes what observeAndPlan returned, so the Status and Sync rules are unit-tested without hosts.
 */
import type { ContainerPlan, HostPlan } from '../plan/diff.js';
import type { Observed } from '../remote/observed.js';
import { containerStatusText } from './container-status.js';

/**
 * in sync: the host runs what git says; files drift: only conf/plugin content differs (a deploy
 * syncs and restarts); spec drift: the container must be re-created (image, env, ports, mounts…);
 * made outside man8s: git has it, the host runs one of that name without man8s's labels (mbctl, by
 * hand; a deploy re-creates it once); not deployed: git has it, the host has no such container;
 * not in git: an orphan.
 */
export type SyncState = 'in sync' | 'files drift' | 'spec drift' | 'made outside man8s' | 'not deployed' | 'not in git';

export interface LiveRow {
  host: string;
  name: string;
  /** From git; for an orphan what the engine reports, '-' when there is no container at all. */
  image: string;
  /**
   * `Up 3 minutes`, `Exited (1) 2 hours ago`, `Never` (configured, never created), `Orphan` (a container
   * git does not have), `Orphan (no container)` (conf/plugin folders on the host that git does not have).
   */
  status: string;
  /** The engine's own state (running, exited…); null when the container does not exist. */
  state: string | null;
  /** From git; null for an orphan (git says nothing about it). */
  autostart: boolean | null;
  yggaddr: string | null;
  sync: SyncState;
  /** Why it is not in sync, as plan words it. */
  reasons: string[];
}

export interface UnreachableRow {
  host: string;
  error: string;
}

/** Sync from the plan's action, refined by the file changes the plan found (stopped containers plan 'start' or 'none'). */
export function syncOf(c: ContainerPlan): SyncState {
  if (c.action === 'create') return 'not deployed';
  if (c.observed && !c.observed.managed) return 'made outside man8s';
  if (c.action === 'recreate') return 'spec drift';
  if (c.action === 'restart' || c.fileChanges.length > 0) return 'files drift';
  return 'in sync';
}

/** Plan's reasons, plus the warning that matters before a deploy: files edited on the host will be overwritten. */
function reasonsOf(c: ContainerPlan, sync: SyncState): string[] {
  if (sync === 'in sync') return [];
  const reasons = c.reasons.length ? c.reasons : describeFiles(c);
  return c.drift ? [...reasons, 'conf/plugin files were edited on the host since man8s deployed them; a deploy overwrites those edits'] : reasons;
}

/**
 * Every row of one host, like `mbctl list` (which lists every config under conf/) plus what only man8s
 * can tell: containers in git, containers on the host that git does not have (labelled by man8s, or made
 * by mbctl or by hand next to a conf folder), and conf/plugin folders left on the host with no container.
 */
export function liveRows(plan: HostPlan, observed: Observed): LiveRow[] {
  const rows: LiveRow[] = plan.containers.map((c) => {
    const sync = syncOf(c);
    return {
      host: plan.host,
      name: c.name,
      image: c.desired.image,
      status: c.observed ? containerStatusText(c.observed, observed.time) : 'Never',
      state: c.observed?.state ?? null,
      autostart: c.desired.autostart,
      yggaddr: c.desired.yggaddr ?? null,
      sync,
      reasons: reasonsOf(c, sync),
    };
  });
  const inGit = new Set(plan.containers.map((c) => c.name));
  const orphan = (name: string, image: string, status: string, state: string | null, reason: string): LiveRow => ({
    host: plan.host,
    name,
    image,
    status,
    state,
    autostart: null,
    yggaddr: null,
    sync: 'not in git',
    reasons: [reason],
  });
  const seen = new Set<string>();
  for (const o of plan.orphanContainers) {
    seen.add(o.name);
    rows.push(orphan(o.name, o.image, 'Orphan', o.state, `${containerStatusText(o, observed.time)}, labelled io.man8s.managed but not in git`));
  }
  // observe lists an unlabelled container only when a conf folder of its name exists: a Man8S container.
  for (const o of observed.unlabeled) {
    if (inGit.has(o.name) || seen.has(o.name)) continue;
    seen.add(o.name);
    rows.push(orphan(o.name, o.image, 'Orphan', o.state, `${containerStatusText(o, observed.time)}, made outside man8s (no io.man8s labels), not in git`));
  }
  const folders = new Map<string, string[]>();
  for (const f of plan.orphanFolders) if (!seen.has(f.name)) folders.set(f.name, [...(folders.get(f.name) ?? []), `${f.type}/${f.name}`]);
  for (const [name, paths] of folders) {
    rows.push(orphan(name, '-', 'Orphan (no container)', null, `${paths.join(' and ')} on the host, no container, not in git`));
  }
  // Git order is dependency order (plan's); a listing reads better by name, like mbctl list.
  return rows.sort((a, b) => a.name.localeCompare(b.name));
}

function describeFiles(c: ContainerPlan): string[] {
  return c.fileChanges.length ? [`files differ: ${c.fileChanges.slice(0, 3).map((f) => `${f.type}/${f.path}`).join(', ')}`] : [];
}

export function liveTableRows(rows: LiveRow[]): string[][] {
  return rows.map((r) => [
    r.host,
    r.name,
    r.image,
    r.status,
    r.autostart === null ? '-' : r.autostart ? 'Yes' : 'No',
    r.yggaddr ?? '-',
    r.sync,
  ]);
}

export const LIVE_HEADERS = ['Host', 'Container', 'Image', 'Status', 'AutoStart', 'YggAddr', 'Sync'];
