/**
 * Applying one host's plan: the second half of `deploy` (the first is observe + plan, src/plan/run.ts).
 * The caller holds the host's lock and its connection.
 *
 *   1. sync conf/plugin of the containers whose files differ (rsync; previous versions → backup folder)
 *   2. prepare mounts of the containers about to be created (one command)
 *   3. per dependency level: compose up / restart / start, then wait until each stays up (one command)
 *   4. a container that fails gets its previous files and compose file back and runs again; containers
 *      that require it are skipped (their files put back too); other containers and hosts go on
 *   5. with --prune: orphan containers removed (never their data), orphan folders set aside
 *
 * Remote commands for a deploy of one changed container: sync (rsync), mounts, compose up, wait — plus
 * observe and the lock around it.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Fleet, HostSpec, SyncedType } from '../fleet/model.js';
import { SYNCED_TYPES } from '../fleet/model.js';
import type { ContainerResult } from '../git/deployed.js';
import type { Action, ContainerPlan, HostPlan } from '../plan/diff.js';
import type { HostState } from '../plan/run.js';
import { composeYaml } from '../man8s/render.js';
import type { Connection } from '../remote/transport.js';
import { hostPaths, type HostPaths } from '../remote/paths.js';
import { engineTarget, composeApplyCommand, composeRollbackCommand, composeRemoveCommand, startContainersCommand, stopArgv, type EngineTarget } from '../remote/engine.js';
import { makeFolderSkeleton, mountFoldersInTrees, pushTreesArgv, runRsync, type TreeRef } from '../remote/rsync.js';
import { prepareMountsCommand, parsePrepareOutput } from '../remote/mounts.js';
import { waitRunningCommand, parseWaitOutput, type WaitOptions } from '../remote/health.js';
import { restoreFilesCommand, parseRestoreOutput, setAsideFoldersCommand } from '../remote/files.js';
import { UserError } from '../errors.js';

export interface ApplyOptions {
  /** Names this deploy's backup folder on the host (`<storage>-state/backup/<deployId>`). */
  deployId: string;
  pull?: boolean;
  prune?: boolean;
  healthTimeoutSec: number;
  settleSec: number;
  /**
   * Aborting (Ctrl-C, SIGTERM, the lock lost) stops at the next safe point: containers not yet applied
   * keep their old files. A string reason other than a signal name is said as the skip reason.
   */
  signal?: AbortSignal;
}

export interface ContainerOutcome {
  name: string;
  action: Action;
  result: ContainerResult;
  error?: string;
  /** Image id the container runs after the deploy, when known. */
  imageId?: string;
}

export interface HostApplyResult {
  host: string;
  outcomes: ContainerOutcome[];
  /** Orphans removed by --prune (`name` for containers, `conf/name` for folders). */
  pruned: string[];
  /** Files the sync changed (itemized by rsync). */
  filesSynced: number;
  /** A failure of the whole host (the sync failed): nothing was applied. */
  error?: string;
}

export type DeployEvent =
  /** `step` names the outline step this begins (applyOutline); without it the text is a detail of the current one. */
  | { host: string; kind: 'step'; text: string; step?: string }
  | { host: string; kind: 'container'; name: string; status: 'applying' | 'waiting' | 'done' | 'failed' | 'rolled-back' | 'skipped'; text?: string };

export type Reporter = (event: DeployEvent) => void;

const DONE_RESULT: Record<Exclude<Action, 'none'>, ContainerResult> = {
  create: 'created',
  recreate: 'recreated',
  restart: 'restarted',
  start: 'started',
};

/** Everything one host's apply needs, passed around instead of long parameter lists. */
interface Run {
  fleet: Fleet;
  host: HostSpec;
  conn: Connection;
  paths: HostPaths;
  target: EngineTarget;
  backupDir: string;
  opts: ApplyOptions;
  say: (text: string, step?: string) => void;
  mark: (name: string, status: Extract<DeployEvent, { kind: 'container' }>['status'], text?: string) => void;
  outcomes: Map<string, ContainerOutcome>;
  /** Containers whose files this deploy synced: they must be restored if they are not applied. */
  synced: Set<string>;
}

/** One step of applying a host, as the progress tree shows it before it runs. */
export interface OutlineStep {
  /** What the apply's step events name (DeployEvent.step). */
  key: string;
  title: string;
  containers: Array<{ name: string; title: string }>;
}

const levelStep = (level: number) => `level:${level}`;

/**
 * The steps applyHost will go through for this plan, in order: what a progress tree lays out in
 * advance (host → step → container). Steps that turn out to have nothing to do are shown as skipped.
 */
export function applyOutline(plan: HostPlan, o: { prune?: boolean } = {}): OutlineStep[] {
  const steps: OutlineStep[] = [];
  if (plan.containers.some((c) => c.fileChanges.length > 0)) steps.push({ key: 'sync', title: 'sync conf/plugin', containers: [] });
  const created = plan.containers.filter((c) => c.action === 'create' || c.action === 'recreate');
  if (prepareMountsCommand(created.map((c) => ({ container: c.name, mounts: c.desired.mounts })))) steps.push({ key: 'mounts', title: 'prepare mounts', containers: [] });
  for (const level of [...new Set(plan.containers.map((c) => c.level))].sort((a, b) => a - b)) {
    const todo = plan.containers.filter((c) => c.level === level && c.action !== 'none');
    if (todo.length > 0) steps.push({ key: levelStep(level), title: `level ${level}`, containers: todo.map((c) => ({ name: c.name, title: `${c.action} ${c.name}` })) });
  }
  if (o.prune && plan.orphanContainers.length + plan.orphanFolders.length > 0) steps.push({ key: 'prune', title: 'prune orphans', containers: [] });
  return steps;
}

export async function applyHost(fleet: Fleet, state: HostState, conn: Connection, opts: ApplyOptions, report: Reporter): Promise<HostApplyResult> {
  const { host, plan } = state;
  const paths = hostPaths(host.settings.storage_path);
  const run: Run = {
    fleet,
    host,
    conn,
    paths,
    target: engineTarget(host.settings, state.observed.engine.compose),
    backupDir: paths.backup(opts.deployId),
    opts,
    say: (text, step) => report({ host: host.name, kind: 'step', text, ...(step ? { step } : {}) }),
    mark: (name, status, text) => report({ host: host.name, kind: 'container', name, status, ...(text ? { text } : {}) }),
    outcomes: new Map(),
    synced: new Set(),
  };
  const result: HostApplyResult = { host: host.name, outcomes: [], pruned: [], filesSynced: 0 };

  try {
    result.filesSynced = await syncFiles(run, plan.containers);
  } catch (err) {
    if (!(err instanceof UserError)) throw err;
    // rsync may have changed some files before failing: put every synced container's files back.
    await restoreFiles(run, plan.containers.filter((c) => c.fileChanges.length > 0)).catch(() => undefined);
    return { ...result, error: err.message, outcomes: plan.containers.map((c) => ({ name: c.name, action: c.action, result: c.action === 'none' ? 'unchanged' : 'skipped' })) };
  }

  await prepareMounts(run, plan.containers.filter((c) => c.action === 'create' || c.action === 'recreate'));

  const levels = [...new Set(plan.containers.map((c) => c.level))].sort((a, b) => a - b);
  for (const level of levels) {
    const inLevel = plan.containers.filter((c) => c.level === level);
    await applyLevel(run, inLevel);
  }

  if (opts.prune && !opts.signal?.aborted) result.pruned = await prune(run, state);

  for (const c of plan.containers) {
    result.outcomes.push(run.outcomes.get(c.name) ?? { name: c.name, action: c.action, result: 'unchanged', ...(c.observed ? { imageId: c.observed.imageId } : {}) });
  }
  return result;
}

/** rsync of the containers whose conf/plugin differ; a folder git no longer has is set aside instead. */
async function syncFiles(run: Run, containers: readonly ContainerPlan[]): Promise<number> {
  const trees: TreeRef[] = [];
  const setAside: Array<{ type: SyncedType; name: string }> = [];
  for (const c of containers) {
    if (c.fileChanges.length === 0) continue;
    run.synced.add(c.name);
    for (const type of SYNCED_TYPES) {
      // Only folders that exist locally are listed: rsync --delete would empty a listed folder git lacks.
      if (existsSync(join(run.host.dir, type, c.name))) trees.push({ type, name: c.name });
      else if (c.fileChanges.some((f) => f.type === type)) setAside.push({ type, name: c.name });
    }
  }
  let changed = 0;
  if (trees.length > 0) {
    run.say(`syncing conf/plugin of ${[...run.synced].join(', ')}`, 'sync');
    // Folder mounts inside conf/plugin are usually empty in git (which cannot store them): keep them.
    const folders = mountFoldersInTrees(run.paths.storage, containers.flatMap((c) => c.desired.mounts), trees);
    const skeleton = folders.length > 0 ? await makeFolderSkeleton(folders) : undefined;
    try {
      const argv = pushTreesArgv({ host: run.conn.resolved, localDir: run.host.dir, storagePath: run.paths.storage, trees, backupDir: run.backupDir, ...(skeleton ? { skeletonDir: skeleton.dir } : {}) });
      const r = await runRsync(argv, { label: run.host.name });
      run.conn.recordExternal({ connections: 1, bytesSent: r.stats.bytesSent ?? 0, bytesReceived: r.stats.bytesReceived ?? 0 });
      changed = r.items.length;
    } finally {
      await skeleton?.remove();
    }
  }
  if (setAside.length > 0) {
    const cmd = setAsideFoldersCommand({ storage: run.paths.storage, backupDir: run.backupDir, folders: setAside });
    await run.conn.check(cmd.argv, 'setting aside folders removed from git');
  }
  return changed;
}

async function prepareMounts(run: Run, containers: readonly ContainerPlan[]): Promise<void> {
  const cmd = prepareMountsCommand(containers.map((c) => ({ container: c.name, mounts: c.desired.mounts })));
  if (!cmd) return;
  run.say(`preparing mounts of ${containers.map((c) => c.name).join(', ')}`, 'mounts');
  const r = await run.conn.run(cmd.argv, { timeoutMs: 120_000 });
  if (r.code !== 0) throw new UserError(`${run.host.name}: mount preparation failed (exit ${r.code}): ${r.stderr.trim()}`);
  for (const f of parsePrepareOutput(r.stdout)) {
    if (run.outcomes.has(f.container)) continue;
    const c = containers.find((x) => x.name === f.container)!;
    fail(run, c, `mount ${f.source}: ${f.reason}`);
  }
}

function fail(run: Run, c: ContainerPlan, error: string): void {
  run.outcomes.set(c.name, { name: c.name, action: c.action, result: 'failed', error });
  run.mark(c.name, 'failed', error);
}

/** A container is skipped when something it requires failed or was skipped in this deploy. */
function blockedBy(run: Run, c: ContainerPlan): string | undefined {
  return c.desired.require.find((r) => {
    const o = run.outcomes.get(r);
    return o?.result === 'failed' || o?.result === 'skipped';
  });
}

async function applyLevel(run: Run, level: readonly ContainerPlan[]): Promise<void> {
  const todo: ContainerPlan[] = [];
  const putBack: ContainerPlan[] = [];
  for (const c of level) {
    if (run.outcomes.has(c.name)) {
      putBack.push(c); // failed mount preparation: its synced files go back
      continue;
    }
    const blocker = blockedBy(run, c);
    const aborted = run.opts.signal?.aborted;
    if ((blocker || aborted) && (c.action !== 'none' || run.synced.has(c.name))) {
      const why = blocker ? `requires ${blocker}, which did not deploy` : stopReason(run.opts.signal);
      run.outcomes.set(c.name, { name: c.name, action: c.action, result: 'skipped', error: why });
      run.mark(c.name, 'skipped', why);
      putBack.push(c);
      continue;
    }
    if (c.action !== 'none') todo.push(c);
    else if (run.synced.has(c.name)) run.outcomes.set(c.name, { name: c.name, action: c.action, result: 'unchanged', ...(c.observed ? { imageId: c.observed.imageId } : {}) });
  }
  await restoreFiles(run, putBack.filter((c) => run.synced.has(c.name)));
  if (todo.length === 0) return;

  run.say(`level ${todo[0]!.level}: ${todo.map((c) => `${c.action} ${c.name}`).join(', ')}`, levelStep(todo[0]!.level));
  const started = await runActions(run, todo);
  if (started.length === 0) return;

  for (const c of started) run.mark(c.name, 'waiting');
  const wait: WaitOptions = { timeoutSec: run.opts.healthTimeoutSec, settleSec: run.opts.settleSec };
  const verdicts = await waitFor(run, started.map((c) => c.name), wait);
  const failed: ContainerPlan[] = [];
  for (const c of started) {
    const v = verdicts.get(c.name)!;
    if (v.ok) {
      run.outcomes.set(c.name, { name: c.name, action: c.action, result: DONE_RESULT[c.action as Exclude<Action, 'none'>], imageId: v.imageId });
      run.mark(c.name, 'done');
    } else {
      fail(run, c, v.reason);
      failed.push(c);
    }
  }
  await rollback(run, failed);
}

/** compose up for create/recreate (one command each, in parallel), one restart and one start for the rest. */
async function runActions(run: Run, todo: readonly ContainerPlan[]): Promise<ContainerPlan[]> {
  const ok: ContainerPlan[] = [];
  const composeJobs = todo.filter((c) => c.action === 'create' || c.action === 'recreate');
  const batch = (action: Action) => todo.filter((c) => c.action === action);
  await Promise.all([
    ...composeJobs.map(async (c) => {
      run.mark(c.name, 'applying', c.action);
      const cmd = composeApplyCommand({ target: run.target, paths: run.paths, name: c.name, yaml: composeYaml(c.desired.compose), recreate: c.action === 'recreate', filesHash: c.desired.filesHash, ...(run.opts.pull ? { pull: true } : {}) });
      const r = await run.conn.runCommand(cmd, { timeoutMs: 15 * 60_000 });
      if (r.code === 0) ok.push(c);
      else {
        fail(run, c, `compose up failed (exit ${r.code}): ${lastLines(r.stderr || r.stdout)}`);
        await rollback(run, [c]);
      }
    }),
    ...(['restart', 'start'] as const).map(async (action) => {
      const group = batch(action);
      if (group.length === 0) return;
      for (const c of group) run.mark(c.name, 'applying', action);
      const cmd = startContainersCommand({ target: run.target, paths: run.paths, action, containers: group.map((c) => ({ name: c.name, filesHash: c.desired.filesHash })) });
      const r = await run.conn.runCommand(cmd, { timeoutMs: 5 * 60_000 });
      if (r.code === 0) ok.push(...group);
      else {
        for (const c of group) fail(run, c, `${action} failed (exit ${r.code}): ${lastLines(r.stderr || r.stdout)}`);
        await rollback(run, group);
      }
    }),
  ]);
  return todo.filter((c) => ok.includes(c));
}

async function waitFor(run: Run, names: string[], wait: WaitOptions) {
  const r = await run.conn.run(waitRunningCommand(run.target, names, wait).argv, { timeoutMs: (wait.timeoutSec + wait.settleSec + 30) * 1000 });
  return new Map(parseWaitOutput(r.stdout, names, wait).map((v) => [v.name, v]));
}

/**
 * Back to the previous version: files from the backup folder, then the previous compose file (recreate),
 * removal (create: there was nothing before; data folders stay), a restart on the old files (restart),
 * or a stop (start: it was stopped before). Then wait for the old version to run.
 */
async function rollback(run: Run, failed: readonly ContainerPlan[]): Promise<void> {
  if (failed.length === 0) return;
  run.say(`rolling back ${failed.map((c) => c.name).join(', ')}`);
  await restoreFiles(run, failed.filter((c) => run.synced.has(c.name)));
  const rerun: ContainerPlan[] = [];
  for (const c of failed) {
    const base = { target: run.target, paths: run.paths, name: c.name };
    // The previous version runs on the files the host had before this deploy (restored just above).
    const previousFiles = { name: c.name, filesHash: c.hostFilesHash };
    let r: { code: number; stderr: string; stdout: string } | undefined;
    if (c.action === 'create') r = await run.conn.runCommand(composeRemoveCommand(base), { timeoutMs: 5 * 60_000 });
    else if (c.action === 'recreate') r = await run.conn.runCommand(composeRollbackCommand({ ...base, filesHash: c.hostFilesHash }), { timeoutMs: 15 * 60_000 });
    else if (c.action === 'restart') r = await run.conn.runCommand(startContainersCommand({ target: run.target, paths: run.paths, action: 'restart', containers: [previousFiles] }), { timeoutMs: 5 * 60_000 });
    else if (c.action === 'start') r = await run.conn.run(stopArgv(run.target, [c.name]), { timeoutMs: 5 * 60_000 });
    const outcome = run.outcomes.get(c.name)!;
    if (r && r.code !== 0) {
      const why = r.code === 3 && c.action === 'recreate' ? 'no previous compose file on the host (the old container was not made by man8s)' : lastLines(r.stderr || r.stdout);
      outcome.error = `${outcome.error}; rollback failed: ${why}`;
      continue;
    }
    if (c.action === 'recreate' || c.action === 'restart') rerun.push(c);
    else outcome.error = `${outcome.error}; ${c.action === 'create' ? 'removed again (its data folders stay)' : 'stopped again'}`;
  }
  if (rerun.length > 0) {
    const verdicts = await waitFor(run, rerun.map((c) => c.name), { timeoutSec: run.opts.healthTimeoutSec, settleSec: run.opts.settleSec });
    for (const c of rerun) {
      const v = verdicts.get(c.name)!;
      const outcome = run.outcomes.get(c.name)!;
      outcome.error = `${outcome.error}; ${v.ok ? 'the previous version runs again' : `the previous version does not run either: ${v.reason}`}`;
      if (v.ok) run.mark(c.name, 'rolled-back');
    }
  }
}

async function restoreFiles(run: Run, containers: readonly ContainerPlan[]): Promise<void> {
  for (const c of containers) {
    const cmd = restoreFilesCommand({ storage: run.paths.storage, backupDir: run.backupDir, name: c.name, changes: c.fileChanges });
    const r = await run.conn.run(cmd.argv, { timeoutMs: 120_000 });
    const missing = parseRestoreOutput(r.stdout);
    if (r.code !== 0 || missing.length > 0) {
      const o = run.outcomes.get(c.name);
      const note = `files not fully restored${missing.length ? ` (${missing.join(', ')} had no previous version)` : ''}`;
      if (o) o.error = o.error ? `${o.error}; ${note}` : note;
    }
    run.synced.delete(c.name);
  }
}

async function prune(run: Run, state: HostState): Promise<string[]> {
  const pruned: string[] = [];
  if (state.plan.orphanContainers.length + state.plan.orphanFolders.length > 0) run.say('pruning orphans', 'prune');
  for (const o of state.plan.orphanContainers) {
    run.say(`pruning container ${o.name} (its data stays)`);
    const r = await run.conn.runCommand(composeRemoveCommand({ target: run.target, paths: run.paths, name: o.name }), { timeoutMs: 5 * 60_000 });
    if (r.code === 0) pruned.push(o.name);
    else run.say(`could not remove ${o.name}: ${lastLines(r.stderr || r.stdout)}`);
  }
  if (state.plan.orphanFolders.length > 0) {
    await run.conn.check(setAsideFoldersCommand({ storage: run.paths.storage, backupDir: run.backupDir, folders: state.plan.orphanFolders }).argv, 'setting aside orphan folders');
    pruned.push(...state.plan.orphanFolders.map((f) => `${f.type}/${f.name}`));
  }
  return pruned;
}

/** Why the apply stopped early: a signal (Ctrl-C, SIGTERM) or the lost lock, whose reason says so. */
function stopReason(signal: AbortSignal | undefined): string {
  const r: unknown = signal?.reason;
  return typeof r === 'string' && !r.startsWith('SIG') ? r.replace(/^[^:]+: /, '') : 'interrupted';
}

function lastLines(text: string, n = 3): string {
  return text.trim().split('\n').slice(-n).join(' / ') || '(no output)';
}
