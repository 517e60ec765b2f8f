/**
 * `man8s ls` live: the fleet-wide `mbctl list`, built from one observe + plan per host (plan/run.ts).
 * Pure: takes what observeAndPlan returned, so the Status and Sync rules are unit-tested without hosts.
 */
import type { ContainerPlan, HostPlan } from '../plan/diff.js';
import type { Observed } from '../remote/observed.js';
import { containerStatusText } from './container-status.js';

/**
 * in sync: the host runs what git says; files drift: only conf/plugin content differs (a deploy
 * syncs and restarts); spec drift: the container must be re-created (image, env, ports, mounts, or made
 * outside man8s); not deployed: git has it, the host has no such container; not in git: an orphan.
 */
export type SyncState = 'in sync' | 'files drift' | 'spec drift' | 'not deployed' | 'not in git';

export interface LiveRow {
  host: string;
  name: string;
  image: string;
  /** `Up 3 minutes`, `Exited (1) 2 hours ago`, `Never` (configured, never created), `Orphan` (not in git). */
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
  if (c.action === 'recreate') return 'spec drift';
  if (c.action === 'restart' || c.fileChanges.length > 0) return 'files drift';
  return 'in sync';
}

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
      reasons: sync === 'in sync' ? [] : c.reasons.length ? c.reasons : describeFiles(c),
    };
  });
  for (const o of plan.orphanContainers) {
    rows.push({
      host: plan.host,
      name: o.name,
      image: o.image,
      status: 'Orphan',
      state: o.state,
      autostart: null,
      yggaddr: null,
      sync: 'not in git',
      reasons: [`${containerStatusText(o, observed.time)}, labelled io.man8s.managed but not in git`],
    });
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
