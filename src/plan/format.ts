/**
 * A plan as a person reads it: per host one line per container that will change, orphans, drift, then
 * unified diffs of every changed text file and of each compose file a re-create replaces. Pure: the
 * contents to diff are gathered beforehand (src/plan/run.ts).
 */
import { createTwoFilesPatch } from 'diff';
import type { Action, ContainerPlan, HostPlan } from './diff.js';

/** One before/after pair to show as a unified diff. `null` = absent on that side. */
export interface TextDiff {
  /** e.g. `relink:conf/relink-nginx/etc/nginx/nginx.conf` */
  label: string;
  before: Buffer | null;
  after: Buffer | null;
  /** Said instead of a diff when the content cannot be shown (binary, too big, unreadable). */
  note?: string;
}

export interface HostPlanView {
  plan: HostPlan;
  /** How the host is reached, for the header (`root@relink.example.org`). */
  destination: string;
  diffs: TextDiff[];
}

const MARK: Record<Action, string> = { create: '+', recreate: '-/+', restart: '~', start: '>', none: '.' };

export function actionSummary(plan: HostPlan): string {
  const counts = new Map<string, number>();
  const add = (what: string) => counts.set(what, (counts.get(what) ?? 0) + 1);
  for (const c of plan.containers) {
    if (c.action === 'none') add(c.fileChanges.length > 0 ? 'to sync' : 'unchanged');
    else add(`to ${c.action}`);
  }
  if (plan.orphanContainers.length + plan.orphanFolders.length > 0) counts.set('orphaned', plan.orphanContainers.length + plan.orphanFolders.length);
  const order = ['to create', 'to recreate', 'to restart', 'to start', 'to sync', 'orphaned', 'unchanged'];
  return order.filter((k) => counts.has(k)).map((k) => `${counts.get(k)} ${k}`).join(', ') || 'no containers';
}

function containerLine(c: ContainerPlan, width: number): string {
  const label = c.action === 'none' ? 'sync' : c.action;
  return `  ${MARK[c.action].padEnd(3)} ${label.padEnd(8)} ${c.name.padEnd(width)}  ${c.reasons.join('; ')}`.trimEnd();
}

export function formatHostPlan(view: HostPlanView, opts: { prune?: boolean } = {}): string {
  const { plan } = view;
  const lines = [`${plan.host} (${view.destination}): ${actionSummary(plan)}`];
  for (const e of plan.errors) lines.push(`  ! error   ${e}`);
  for (const w of plan.warnings) lines.push(`  ! warning ${w}`);
  const shown = plan.containers.filter((c) => c.action !== 'none' || c.fileChanges.length > 0);
  const width = Math.max(0, ...shown.map((c) => c.name.length), ...plan.orphanContainers.map((c) => c.name.length));
  for (const c of shown) lines.push(containerLine(c, width));
  for (const c of plan.containers.filter((x) => x.drift)) {
    lines.push(`  ! drift   ${c.name}: its conf/plugin files were edited on the host since the last deploy; this deploy overwrites them (the host's versions are kept in the backup folder)`);
  }
  const prune = opts.prune ? 'removed by --prune' : 'kept; --prune removes it';
  for (const o of plan.orphanContainers) lines.push(`  -   orphan   ${o.name.padEnd(width)}  container on the host, not in git (${prune}; its data stays)`);
  for (const o of plan.orphanFolders) lines.push(`  -   orphan   ${`${o.type}/${o.name}`.padEnd(width)}  folder on the host, not in git (${prune}; kept in the backup folder)`);
  const diffs = view.diffs.map(formatDiff).filter(Boolean);
  if (diffs.length > 0) lines.push('', ...diffs);
  return lines.join('\n');
}

function isBinary(b: Buffer): boolean {
  return b.subarray(0, 8000).includes(0);
}

export function formatDiff(d: TextDiff): string {
  if (d.note) return `--- ${d.label}\n    (${d.note})\n`;
  if ((d.before && isBinary(d.before)) || (d.after && isBinary(d.after))) return `--- ${d.label}\n    (binary file differs)\n`;
  const before = d.before?.toString('utf8') ?? '';
  const after = d.after?.toString('utf8') ?? '';
  if (before === after) return '';
  const patch = createTwoFilesPatch(
    d.before ? `${d.label} (host)` : '/dev/null',
    d.after ? `${d.label} (git)` : '/dev/null',
    before,
    after,
    undefined,
    undefined,
    { context: 3 },
  );
  // jsdiff starts with a "=====" banner; the ---/+++ lines say it all.
  return patch.replace(/^(Index:.*\n)?=+\n/, '');
}
