/**
 * The migration record: `<storage>-state/migrate/<name>.json`, the same record on both hosts, rewritten
 * at every phase change. It is what makes Ctrl-C, a lost connection or a killed man8s recoverable:
 * `--resume` continues from its phase, `--abort` undoes from its phase. It lives on the hosts, not on the
 * workstation, because the hosts are what changed (and another operator may have to finish the job).
 *
 * Phases, in order (each is written BEFORE the step it names starts, so a record never claims less
 * than what may have happened):
 *   copying         phase 1 (bulk copy) while the source containers run
 *   stopped         source containers stopped (or being stopped); phase 2, verify
 *   verified        target copy equals the source
 *   switched        git mv done in the work tree; deploying on the target
 *   target-up       target runs; redeploying neighbours, removing the containers from the source
 *   source-removed  source containers removed, source data renamed as leftovers; commit pending
 */
import type { CopyUnit, AffectedContainer } from './plan.js';
import { assertSafeName } from '../remote/paths.js';
import type { RemoteCommand } from '../remote/transport.js';

export const PHASES = ['copying', 'stopped', 'verified', 'switched', 'target-up', 'source-removed'] as const;
export type Phase = (typeof PHASES)[number];

export interface MigrationRecord {
  version: 1;
  /** Random per migration: tells this migration's record from a stale one of the same name. */
  id: string;
  name: string;
  group: string[];
  from: string;
  to: string;
  mode: 'direct' | 'via-local';
  checksum: boolean;
  purgeSource: boolean;
  phase: Phase;
  /** Incremented on every write: of two differing records (killed between the two writes) the higher wins. */
  seq: number;
  startedAt: string;
  updatedAt: string;
  by: string;
  /** git HEAD when the migration started. */
  baseCommit: string;
  units: CopyUnit[];
  /** Target paths that did not exist before: the only ones a rollback removes (never a --force'd one). */
  createdOnTarget: string[];
  /** Group members running on the source before the stop: what a rollback starts again. */
  wasRunning: string[];
  /** When the source containers were stopped (epoch ms): downtime runs from here. */
  stoppedAt?: number;
  /** When the target ran (epoch ms). */
  runningAt?: number;
  affected: AffectedContainer[];
  /** Suffix stamp of the source leftovers, fixed at the start so a resumed run renames to the same names. */
  leftoverStamp: string;
  /** Source paths renamed to leftovers (`<path>.man8s-migrated-<stamp>`). */
  leftovers: string[];
  /**
   * Set when an undo (automatic rollback or --abort) began: from then on the source may run again on its
   * own data, so continuing the migration (--resume) would strand those writes; only --abort may finish.
   */
  aborting?: boolean;
}

export function phaseIndex(p: Phase): number {
  return PHASES.indexOf(p);
}

export function atLeast(r: Pick<MigrationRecord, 'phase'>, p: Phase): boolean {
  return phaseIndex(r.phase) >= phaseIndex(p);
}

/** A new record with the phase advanced; never goes backwards (a resumed step re-writes its own phase). */
export function advance(r: MigrationRecord, phase: Phase, patch: Partial<MigrationRecord> = {}, now = new Date()): MigrationRecord {
  if (phaseIndex(phase) < phaseIndex(r.phase)) throw new Error(`migration record: phase ${r.phase} → ${phase} goes backwards`);
  return { ...r, ...patch, phase, seq: r.seq + 1, updatedAt: now.toISOString() };
}

export type ResumeStep = 'copy1' | 'stop' | 'copy2' | 'verify' | 'switch' | 'deploy-target' | 'redeploy-affected' | 'remove-source' | 'commit';

const ALL_STEPS: ResumeStep[] = ['copy1', 'stop', 'copy2', 'verify', 'switch', 'deploy-target', 'redeploy-affected', 'remove-source', 'commit'];

/** The first step a run (fresh or resumed) performs for a record in `phase`; every later step follows. */
const FIRST_STEP: Record<Phase, ResumeStep> = {
  copying: 'copy1',
  // The stop is repeated on resume: stopping a stopped container is harmless, and a killed run may have
  // written the phase without the stop having happened.
  stopped: 'stop',
  verified: 'switch',
  switched: 'switch',
  'target-up': 'redeploy-affected',
  'source-removed': 'commit',
};

export function stepsFrom(phase: Phase): ResumeStep[] {
  return ALL_STEPS.slice(ALL_STEPS.indexOf(FIRST_STEP[phase]));
}

export type AbortStep = 'revert-git' | 'remove-target-containers' | 'start-source' | 'redeploy-affected' | 'remove-target-data' | 'set-aside-target-data';

/**
 * How `--abort` (and the automatic rollback) undoes a record in `phase`. After `source-removed` the
 * source has no container and its data is renamed: going back is a new migration, not an abort.
 * The target's copy is removed only before the switch, while the source holds the only current data;
 * from `switched` on the target may have run and written, so its copy is set aside, never deleted.
 */
export function abortSteps(phase: Phase): AbortStep[] | { refused: string } {
  if (phase === 'source-removed') {
    return { refused: 'the migration already finished on the hosts (only the git commit is missing): run man8s migrate --resume to commit it; to go back, migrate the container back' };
  }
  const steps: AbortStep[] = [];
  if (atLeast({ phase }, 'switched')) steps.push('revert-git', 'remove-target-containers');
  steps.push('start-source');
  if (atLeast({ phase }, 'target-up')) steps.push('redeploy-affected');
  steps.push(atLeast({ phase }, 'switched') ? 'set-aside-target-data' : 'remove-target-data');
  return steps;
}

/** Of the records found on the two hosts (either may be missing), the one to trust. */
export function pickRecord(a: MigrationRecord | undefined, b: MigrationRecord | undefined): MigrationRecord | undefined {
  if (!a) return b;
  if (!b) return a;
  if (a.id !== b.id) return a.startedAt >= b.startedAt ? a : b;
  return b.seq > a.seq ? b : a;
}

export function parseRecord(text: string): MigrationRecord | undefined {
  try {
    const r = JSON.parse(text) as Partial<MigrationRecord>;
    if (r?.version !== 1 || typeof r.name !== 'string' || !PHASES.includes(r.phase as Phase)) return undefined;
    return r as MigrationRecord;
  } catch {
    return undefined;
  }
}

export function recordDir(statePath: string): string {
  return `${statePath}/migrate`;
}

export function recordPath(statePath: string, name: string): string {
  assertSafeName(name);
  return `${recordDir(statePath)}/${name}.json`;
}

/** Writes the record atomically (temp file + rename): a killed write leaves the previous record whole. */
export function writeRecordCommand(statePath: string, r: MigrationRecord): RemoteCommand {
  const file = recordPath(statePath, r.name);
  return {
    argv: ['sh', '-c', 'set -e; mkdir -p "$(dirname "$1")"; cat >"$1.tmp"; mv -f "$1.tmp" "$1"', 'man8s-migrate-record', file],
    stdin: `${JSON.stringify(r, null, 2)}\n`,
  };
}

/** The record and what the copy kept beside it (the target's host key handed to the source, rsync's pid file). */
export function deleteRecordCommand(statePath: string, name: string): RemoteCommand {
  const base = recordPath(statePath, name).replace(/\.json$/, '');
  return { argv: ['rm', '-f', '--', `${base}.json`, `${base}.known_hosts`, `${base}.rsync.pid`] };
}

/** Every record on a host, NUL-separated `path\0content\0` pairs (none: empty output). */
export function listRecordsCommand(statePath: string): RemoteCommand {
  const script = 'for f in "$1"/*.json; do [ -f "$f" ] || continue; printf "%s\\0" "$f"; cat "$f"; printf "\\0"; done';
  return { argv: ['sh', '-c', script, 'man8s-migrate-records', recordDir(statePath)] };
}

export function parseRecordList(out: string): MigrationRecord[] {
  const parts = out.split('\0');
  const records: MigrationRecord[] = [];
  for (let i = 0; i + 1 < parts.length; i += 2) {
    const r = parseRecord(parts[i + 1]!);
    if (r) records.push(r);
  }
  return records;
}
