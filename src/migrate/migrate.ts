/**
 * `man8s migrate`: the whole operation, as a sequence of steps driven by the migration record (state.ts).
 *
 *   preflight (nothing changes)  → plan shown, confirmed
 *   copying    phase 1: bulk copy while the container runs on the source
 *   stopped    stop on the source (downtime starts) → phase 2: final delta → verify
 *   switched   git mv conf/plugin → deploy on the target (observeAndPlan --only + applyHost)
 *   target-up  downtime ends → redeploy containers whose dns/local_access address changed
 *              → remove the container on the source, rename its data as leftovers
 *   source-removed → commit both hosts' deployed.yaml with the move; records deleted; locks released
 *
 * Both hosts' locks are held from preflight to the end. Any failure before the target runs rolls back
 * on its own (container started again on the source, git move reverted, the target's copy removed, or
 * set aside once the target may have run); a failure after it, or an interruption, leaves the record for
 * --resume or --abort (outcome.ts says which). The only copy of any data is never deleted: the source's
 * only by --purge-source after the commit, the target's only before the switch.
 */
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Fleet, HostSpec } from '../fleet/model.js';
import { UserError, ExitCode } from '../errors.js';
import { headCommit, type FleetRepo } from '../git/repo.js';
import { readDeployed, writeDeployed } from '../git/deployed.js';
import { openHost, type ConnectSettings } from '../apply/hosts.js';
import { takeLock, releaseLock, newDeployId } from '../apply/deploy.js';
import { applyHost, type HostApplyResult, type Reporter } from '../apply/apply-host.js';
import { buildRecord, deployer } from '../apply/record.js';
import { observeAndPlan, type HostState } from '../plan/run.js';
import { newLockHolder, type LockHolder } from '../remote/lock.js';
import { observeHost } from '../remote/observe.js';
import { composeRemoveCommand, engineTarget, startArgv, stopArgv, type ComposeFlavor, type EngineTarget } from '../remote/engine.js';
import { hostPaths, type HostPaths } from '../remote/paths.js';
import type { Connection } from '../remote/transport.js';
import type { RshHost, RsyncProgress } from '../remote/rsync.js';
import { knownHostsName, lookupNames, readKnownHosts, entryMatchesName } from '../remote/known-hosts.js';
import {
  compareManifests,
  copyBatches,
  directCopyArgv,
  directReachError,
  killLeftoverCommand,
  manifestCommand,
  parseManifest,
  parseProbe,
  pidFile,
  probeCommand,
  pullCopyArgv,
  pushCopyArgv,
  reachTargetArgv,
  runDirectCopy,
  runLocalCopy,
} from './copy.js';
import { formatBytes } from './plan.js';
import { localPreflight, remotePreflight, formatMigrationPlan, type PreflightOptions } from './preflight.js';
import {
  abortSteps,
  advance,
  atLeast,
  deleteRecordCommand,
  listRecordsCommand,
  parseRecordList,
  pickRecord,
  stepsFrom,
  writeRecordCommand,
  type AbortStep,
  type MigrationRecord,
  type Phase,
  type ResumeStep,
} from './state.js';
import { gitMoveGroup, gitMoveGroupBack, commitMove, groupIsMoved, migrationDeployedFiles, type MovePaths } from './git-move.js';
import { leftoverStamp, leftoverSuffix, markerPath, removeCopiesCommand, removeLeftoversCommand, renameLeftoversCommand, restoreLeftoversCommand } from './leftovers.js';
import {
  afterTargetUpMessage,
  causeOf,
  failureAction,
  interruptedMessage,
  resumeRefusedMessage,
  rolledBackMessage,
  STEP_LABEL,
  undoFailedMessage,
} from './outcome.js';

export interface MigrateIO {
  say(line: string): void;
  progress(label: string, p: RsyncProgress): void;
  /** Ends a progress line (TTY). */
  progressDone(): void;
  confirm(question: string): Promise<boolean>;
}

export interface MigrateContext {
  /** The fleet as the work tree has it now. */
  fleet: Fleet;
  /** Loads the fleet again from the work tree (after git mv). */
  reload(): Promise<Fleet>;
  repo: FleetRepo;
  connect: ConnectSettings;
  io: MigrateIO;
  signal: AbortSignal;
  healthTimeoutSec: number;
  settleSec: number;
  /** Wait this long for a lock another run holds. */
  lockWaitSec: number;
  /** Where a host's deployed.yaml lives (hosts/<h>/, or the sandbox's own folder with --sandbox). */
  recordDir: (host: HostSpec) => string;
}

export interface MigrateOptions extends PreflightOptions {
  checksum: boolean;
  purgeSource: boolean;
  yes: boolean;
}

export interface MigrateSummary {
  record: MigrationRecord;
  commit?: string;
  downtimeMs?: number;
  /** Problems after the switch that did not undo the migration (a neighbour that failed to redeploy). */
  warnings: string[];
}

interface Side {
  name: string;
  spec: HostSpec;
  conn: Connection;
  holder: LockHolder;
  paths: HostPaths;
  compose?: ComposeFlavor;
}

interface Run {
  ctx: MigrateContext;
  record: MigrationRecord;
  from: Side;
  to: Side;
  warnings: string[];
  /** applyHost on the target, when this run did it (for deployed.yaml). */
  targetState?: HostState;
  targetResult?: HostApplyResult;
  /** How the source's rsync reaches the target (direct copy), once the key was handed over. */
  rsh?: RshHost;
}

// ---------------------------------------------------------------- hosts, locks, records

async function openSide(ctx: MigrateContext, fleet: Fleet, name: string, commit: string): Promise<Side> {
  const spec = fleet.hosts.get(name);
  if (!spec) throw new UserError(`no host "${name}" in the fleet (hosts: ${[...fleet.hosts.keys()].join(', ')})`);
  const conn = await openHost(spec, ctx.connect);
  const holder = newLockHolder({ host: name, commit, ttlSec: 6 * 3600 });
  try {
    for (const note of await takeLock(conn, holder, ctx.lockWaitSec)) ctx.io.say(`${name}: ${note}`);
  } catch (err) {
    await conn.close();
    throw err;
  }
  return { name, spec, conn, holder, paths: hostPaths(spec.settings.storage_path) };
}

async function closeSide(s: Side | undefined): Promise<void> {
  if (!s) return;
  await releaseLock(s.conn, s.holder).catch(() => undefined);
  await s.conn.close();
}

async function engineOf(s: Side): Promise<EngineTarget> {
  if (!s.compose) {
    const st = s.spec.settings;
    const o = await observeHost(s.conn, { storagePath: st.storage_path, engine: st.engine, namespace: st.nerdconfig.namespace, snapshotter: st.nerdconfig.snapshotter });
    s.compose = o.engine.compose ?? (s.spec.settings.engine === 'nerdctl' ? 'nerdctl' : 'docker-compose-v2');
  }
  return engineTarget(s.spec.settings, s.compose);
}

async function save(run: Run, phase: Phase, patch: Partial<MigrationRecord> = {}): Promise<void> {
  run.record = advance(run.record, phase, patch);
  await Promise.all(
    [run.from, run.to].map(async (s) => {
      const cmd = writeRecordCommand(s.paths.state, run.record);
      await s.conn.check(cmd.argv, 'writing the migration record', { stdin: cmd.stdin!, timeoutMs: 60_000 });
    }),
  );
}

async function deleteRecords(run: Run): Promise<void> {
  await Promise.all([run.from, run.to].map((s) => s.conn.run(deleteRecordCommand(s.paths.state, run.record.name).argv, { timeoutMs: 60_000 })));
}

/** Test hook: MAN8S_TEST_PAUSE_AT=<step> writes <MAN8S_TEST_PAUSE_FILE>.reached and waits for <file>. */
async function testPause(step: string): Promise<void> {
  if (process.env.MAN8S_TEST_PAUSE_AT !== step || !process.env.MAN8S_TEST_PAUSE_FILE) return;
  const file = process.env.MAN8S_TEST_PAUSE_FILE;
  writeFileSync(`${file}.reached`, `${process.pid}\n`);
  while (!existsSync(file)) await new Promise((r) => setTimeout(r, 100));
}

function checkAborted(ctx: MigrateContext): void {
  if (ctx.signal.aborted) throw new UserError('interrupted', ExitCode.interrupted);
}

// ---------------------------------------------------------------- copy

/** How the source host's rsync reaches the target: the address this machine uses, the key it verified. */
async function directTarget(from: Side, to: Side, name: string): Promise<RshHost> {
  const r = to.conn.resolved;
  const entries = await readKnownHosts([...r.userKnownHostsFiles, ...r.globalKnownHostsFiles]);
  const names = lookupNames(r);
  const keys = entries.filter((e) => !e.marker && names.some((n) => entryMatchesName(e, n)));
  if (keys.length === 0) {
    throw new UserError(`${to.name}: its host key is not in this machine's known_hosts, so it cannot be handed to ${from.name}; connect once with --accept-new-host-keys`);
  }
  const file = `${from.paths.state}/migrate/${name}.known_hosts`;
  const text = keys.map((k) => `${knownHostsName(r.hostname, r.port)} ${k.keyType} ${k.keyBase64}`).join('\n') + '\n';
  await from.conn.check(['sh', '-c', 'mkdir -p "$(dirname "$1")" && cat >"$1"', 'man8s-known-hosts', file], 'handing the target host key to the source', { stdin: text });
  return { alias: r.hostname, port: r.port, user: r.user, userKnownHostsFiles: [file], globalKnownHostsFiles: ['/dev/null'], connectTimeout: 15, serverAliveInterval: 15 };
}

/** Preflight of a direct copy: the source must reach the target over ssh exactly as its rsync will. */
async function checkDirectReach(from: Side, to: Side, name: string): Promise<RshHost> {
  const rsh = await directTarget(from, to, name);
  const r = await from.conn.run(reachTargetArgv(rsh), { timeoutMs: 60_000 });
  if (r.code !== 0) throw directReachError(from.name, to.name, rsh, r);
  return rsh;
}

async function copyPhase(run: Run, phase: 1 | 2): Promise<void> {
  const { ctx, record } = run;
  const probe = await run.from.conn.runCommand(probeCommand(record.units.map((u) => u.fromPath)), { timeoutMs: 30 * 60_000 });
  const found = parseProbe(probe.stdout);
  const batches = copyBatches(record.units, run.from.paths.storage, run.to.paths.storage, (p) => (found.get(p)?.kind ?? 'missing') !== 'missing');
  // Phase 1 copies live data: files vanishing meanwhile (exit 24) are expected; phase 2 must be exact.
  const okCodes = phase === 1 ? [24] : [];
  const label = `phase ${phase}${phase === 1 ? ' (container running)' : ' (final delta)'}`;
  ctx.io.say(`${label}: copying ${batches.flatMap((b) => b.rels).length} paths`);
  const started = Date.now();
  let sent = 0;
  let total = 0;
  if (record.mode === 'direct') {
    const to = (run.rsh ??= await directTarget(run.from, run.to, record.name));
    for (const b of batches) {
      const r = await runDirectCopy(run.from.conn, directCopyArgv(b, to), {
        pidPath: pidFile(run.from.paths.state, record.name),
        okCodes,
        onProgress: (p) => ctx.io.progress(label, p),
        signal: ctx.signal,
      });
      sent += r.stats.transferredFileSize ?? 0;
      total += r.stats.totalFileSize ?? 0;
    }
  } else {
    const local = localDir(record);
    for (const b of batches) {
      // Storage and custom batches stage apart: their relative paths could otherwise collide.
      const staged = join(local, b.fromRoot === '/' ? 'custom' : 'storage');
      mkdirSync(staged, { recursive: true, mode: 0o700 });
      const pull = await runLocalCopy(pullCopyArgv(b, run.from.conn.resolved, staged), {
        label: `${run.from.name} → here`,
        okCodes,
        onProgress: (p) => ctx.io.progress(`${label} ${run.from.name} → here`, p),
        signal: ctx.signal,
      });
      await runLocalCopy(pushCopyArgv(b, staged, run.to.conn.resolved), {
        label: `here → ${run.to.name}`,
        okCodes: [],
        onProgress: (p) => ctx.io.progress(`${label} here → ${run.to.name}`, p),
        signal: ctx.signal,
      });
      sent += pull.stats.transferredFileSize ?? 0;
      total += pull.stats.totalFileSize ?? 0;
    }
  }
  ctx.io.progressDone();
  const secs = (Date.now() - started) / 1000;
  ctx.io.say(`${label}: ${formatBytes(total)} in sync, ${formatBytes(sent)} of it transferred, in ${secs.toFixed(1)} s`);
}

/** The workstation folder of --via-local: one per migration id, so a resumed run reuses what it pulled. */
function localDir(record: MigrationRecord): string {
  return join(process.env.MAN8S_MIGRATE_TMP ?? tmpdir(), `man8s-migrate-${record.name}-${record.id}`);
}

async function verify(run: Run): Promise<void> {
  const { record, ctx } = run;
  const [a, b] = await Promise.all([
    run.from.conn.runCommand(manifestCommand(record.units.map((u) => u.fromPath), record.checksum), { timeoutMs: 6 * 3600_000 }),
    run.to.conn.runCommand(manifestCommand(record.units.map((u) => u.toPath), record.checksum), { timeoutMs: 6 * 3600_000 }),
  ]);
  if (a.code !== 0 || b.code !== 0) throw new UserError(`verifying the copy failed: ${(a.stderr || b.stderr).trim()}`);
  const v = compareManifests(record.units, parseManifest(a.stdout), parseManifest(b.stdout));
  if (!v.ok) throw new UserError(`the copy on ${record.to} differs from ${record.from}:\n  ${v.differences.join('\n  ')}`);
  ctx.io.say(`verified: ${v.entries} entries, ${formatBytes(v.bytes)} identical on ${record.to} (owners, modes, links${record.checksum ? ', content checksums' : ', sizes'})`);
}

// ---------------------------------------------------------------- switch

function movePaths(run: Run, fleet: Fleet): MovePaths {
  return { fromDir: fleet.hosts.get(run.record.from)!.dir, toDir: fleet.hosts.get(run.record.to)!.dir, group: run.record.group };
}

const reporter = (ctx: MigrateContext): Reporter => (e) => {
  if (e.kind === 'step') ctx.io.say(`${e.host}: ${e.text}`);
  else if (e.status === 'failed' || e.status === 'rolled-back' || e.status === 'skipped' || e.status === 'done') {
    ctx.io.say(`${e.host}: ${e.name} ${e.status}${e.text ? `: ${e.text}` : ''}`);
  }
};

function failedOutcomes(result: HostApplyResult): string[] {
  return [...(result.error ? [result.error] : []), ...result.outcomes.filter((o) => o.result === 'failed' || o.result === 'skipped').map((o) => `${o.name}: ${o.error ?? o.result}`)];
}

async function deployOn(run: Run, fleet: Fleet, side: Side, only: readonly string[], deployId: string): Promise<{ state: HostState; result: HostApplyResult }> {
  const spec = fleet.hosts.get(side.name)!;
  const state = await observeAndPlan(fleet, spec, side.conn, { only, recordDir: run.ctx.recordDir(spec) });
  if (state.plan.errors.length > 0) throw new UserError(`${side.name}: ${state.plan.errors.join('; ')}`);
  const result = await applyHost(fleet, state, side.conn, { deployId, healthTimeoutSec: run.ctx.healthTimeoutSec, settleSec: run.ctx.settleSec }, reporter(run.ctx));
  return { state, result };
}

async function writeHostRecord(run: Run, fleet: Fleet, host: string, state: HostState, result: HostApplyResult | null): Promise<void> {
  const spec = fleet.hosts.get(host)!;
  const rec = buildRecord(state, result, run.record.baseCommit, new Date(), deployer());
  const dir = run.ctx.recordDir(spec);
  mkdirSync(dir, { recursive: true });
  await writeDeployed(dir, rec);
}

class TargetFailed extends UserError {}

async function deployTarget(run: Run): Promise<void> {
  const { ctx, record } = run;
  const fleet = await ctx.reload();
  const t = await engineOf(run.to);
  // --force: a container of that name on the target is replaced (its data was overwritten by the copy).
  for (const n of record.group) await run.to.conn.runCommand(composeRemoveCommand({ target: t, paths: run.to.paths, name: n }), { timeoutMs: 5 * 60_000 });
  ctx.io.say(`${record.to}: deploying ${record.group.join(', ')}`);
  const { state, result } = await deployOn(run, fleet, run.to, record.group, `migrate-${newDeployId()}`);
  const failed = failedOutcomes(result);
  if (failed.length > 0) throw new TargetFailed(`${record.to}: ${record.group.join(', ')} did not start: ${failed.join('; ')}`);
  run.targetState = state;
  run.targetResult = result;
  await save(run, 'target-up', { runningAt: run.record.runningAt ?? Date.now() });
}

async function withHost<T>(run: Run, fleet: Fleet, host: string, work: (side: Side) => Promise<T>): Promise<T> {
  if (host === run.from.name) return work(run.from);
  if (host === run.to.name) return work(run.to);
  const side = await openSide(run.ctx, fleet, host, run.record.baseCommit);
  try {
    return await work(side);
  } finally {
    await closeSide(side);
  }
}

async function redeployAffected(run: Run, fleet: Fleet, recordResults: boolean): Promise<void> {
  const byHost = new Map<string, string[]>();
  for (const a of run.record.affected) {
    if (!fleet.hosts.get(a.host)?.containers.has(a.name)) continue;
    byHost.set(a.host, [...(byHost.get(a.host) ?? []), a.name]);
  }
  for (const [host, names] of byHost) {
    try {
      await withHost(run, fleet, host, async (side) => {
        run.ctx.io.say(`${host}: redeploying ${names.join(', ')} (address of ${run.record.name} changed)`);
        const { state, result } = await deployOn(run, fleet, side, names, `migrate-${newDeployId()}`);
        const failed = failedOutcomes(result);
        if (failed.length > 0) run.warnings.push(`${host}: ${failed.join('; ')}; deploy it again with man8s deploy ${host} --only ${names.join(' ')}`);
        if (recordResults) await writeHostRecord(run, fleet, host, state, result);
      });
    } catch (err) {
      if (!(err instanceof UserError)) throw err;
      run.warnings.push(`${host}: could not redeploy ${names.join(', ')}: ${err.message}; run man8s deploy ${host} --only ${names.join(' ')}`);
    }
  }
}

/**
 * Paths renamed as leftovers on the source: the group's own folders, and custom sources that no other
 * container there mounts (fleet or engine, see preflight) and that the target did not have before. A
 * custom path the target already had is a host path both hosts have (/etc/localtime): the source keeps it.
 */
function leftoverPaths(record: MigrationRecord): string[] {
  return record.units
    .filter((u) => u.kind === 'storage' || (u.sharedWith.length === 0 && record.createdOnTarget.includes(u.toPath)))
    .map((u) => u.fromPath);
}

async function removeSource(run: Run): Promise<void> {
  const { record } = run;
  const t = await engineOf(run.from);
  for (const n of [...record.group].reverse()) {
    const r = await run.from.conn.runCommand(composeRemoveCommand({ target: t, paths: run.from.paths, name: n }), { timeoutMs: 5 * 60_000 });
    if (r.code !== 0) throw new UserError(`${record.from}: removing ${n} failed: ${r.stderr.trim()}; remove it by hand (docker rm -f ${n}), then man8s migrate --resume`);
  }
  const cmd = renameLeftoversCommand(run.from.paths.state, { name: record.name, to: record.to, at: record.updatedAt, kind: 'migrated' }, record.leftoverStamp, leftoverPaths(record));
  const r = await run.from.conn.check(cmd.argv, 'renaming the source data');
  const renamed = r.stdout.split('\n').filter(Boolean);
  await save(run, 'source-removed', { leftovers: [...new Set([...record.leftovers, ...renamed])] });
  run.ctx.io.say(`${record.from}: ${record.group.join(', ')} removed; data kept as ${renamed.length ? renamed.join(', ') : '(nothing to keep)'}`);
}

async function commit(run: Run, fleet: Fleet): Promise<string> {
  const { record } = run;
  // deployed.yaml of the target (the run that deployed it knows the outcome; a resumed one observes).
  let state = run.targetState;
  const toSpec = fleet.hosts.get(record.to)!;
  if (!state) state = await observeAndPlan(fleet, toSpec, run.to.conn, { only: record.group, recordDir: run.ctx.recordDir(toSpec) });
  await writeHostRecord(run, fleet, record.to, state, run.targetResult ?? null);
  const fromDir = run.ctx.recordDir(fleet.hosts.get(record.from)!);
  const prev = await readDeployed(fromDir);
  if (prev) {
    for (const n of record.group) delete prev.containers[n];
    await writeDeployed(fromDir, prev);
  }
  const message = `migrate ${record.name}: ${record.from} → ${record.to}${record.group.length > 1 ? ` (with ${record.group.filter((n) => n !== record.name).join(', ')})` : ''}`;
  // Every deployed.yaml the migration may have written, also by a killed run before a --resume (a
  // redeployed neighbour's); outside the fleet (the sandbox's own folder) they are never committed.
  const written = migrationDeployedFiles(record, (h: string) => {
    const spec = fleet.hosts.get(h);
    return spec && run.ctx.recordDir(spec);
  });
  const inFleet = written.filter((f) => f.startsWith(`${fleet.root}/`));
  const sha = await commitMove(run.ctx.repo, movePaths(run, fleet), inFleet, message);
  await deleteRecords(run);
  return sha;
}

// ---------------------------------------------------------------- the run

async function runSteps(run: Run, fromPhase: Phase, fresh = false): Promise<MigrateSummary> {
  const { ctx } = run;
  const steps = stepsFrom(fromPhase);
  let step: ResumeStep = steps[0]!;
  try {
    if (fresh) await save(run, 'copying');
    for (step of steps) {
      checkAborted(ctx);
      switch (step) {
        case 'copy1':
          await copyPhase(run, 1);
          break;
        case 'stop': {
          const t = await engineOf(run.from);
          await save(run, 'stopped', { stoppedAt: run.record.stoppedAt ?? Date.now() });
          const began = Date.now();
          const r = await run.from.conn.run(stopArgv(t, [...run.record.group].reverse()), { timeoutMs: 5 * 60_000 });
          if (r.code !== 0) throw new UserError(`${run.record.from}: stopping ${run.record.group.join(', ')} failed: ${r.stderr.trim()}`);
          // Downtime counts from the stop request; a container slow to honour SIGTERM shows here.
          ctx.io.say(`${run.record.from}: stopped ${run.record.group.join(', ')} in ${((Date.now() - began) / 1000).toFixed(1)} s (downtime starts)`);
          break;
        }
        case 'copy2':
          await testPause('phase2');
          await copyPhase(run, 2);
          break;
        case 'verify':
          await verify(run);
          await save(run, 'verified');
          break;
        case 'switch': {
          await save(run, 'switched');
          const moved = await gitMoveGroup(ctx.repo, movePaths(run, ctx.fleet));
          if (moved.length > 0) ctx.io.say(`git mv → ${moved.join(', ')}`);
          break;
        }
        case 'deploy-target':
          await deployTarget(run);
          ctx.io.say(`${run.record.to}: ${run.record.group.join(', ')} running (downtime ends)`);
          await testPause('target-up');
          break;
        case 'redeploy-affected':
          await redeployAffected(run, await ctx.reload(), true);
          break;
        case 'remove-source':
          await removeSource(run);
          break;
        case 'commit': {
          await testPause('commit');
          const sha = await commit(run, await ctx.reload());
          const downtimeMs = run.record.stoppedAt && run.record.runningAt ? run.record.runningAt - run.record.stoppedAt : undefined;
          if (run.record.purgeSource) await purge(run);
          // The staging folder of --via-local is kept until the end so that --resume reuses what it pulled.
          removeStaging(run.record);
          return { record: run.record, commit: sha, ...(downtimeMs !== undefined ? { downtimeMs } : {}), warnings: run.warnings };
        }
      }
    }
    throw new Error('migration steps ended without a commit');
  } catch (err) {
    throw await failed(run, err, STEP_LABEL[step]);
  }
}

/** The error a failed step ends in; before the target runs, after rolling everything back. */
async function failed(run: Run, err: unknown, during: string): Promise<UserError> {
  const action = failureAction(run.record, err);
  if (action === 'interrupted') return new UserError(interruptedMessage(run.record), ExitCode.interrupted);
  const cause = causeOf(err, during);
  if (action === 'hint') return new UserError(afterTargetUpMessage(run.record, cause));
  run.ctx.io.say(`failed: ${cause}`);
  run.ctx.io.say(`rolling back: ${run.record.group.join(', ')} goes back to ${run.record.from}`);
  const undo = await rollback(run, cause);
  // Only now: had the rollback failed, --abort could still need what was staged.
  removeStaging(run.record);
  return new UserError(rolledBackMessage(run.record, cause, undo.setAside));
}

/** The --via-local staging folder: a whole copy of the data on this machine. */
function removeStaging(record: MigrationRecord): void {
  if (record.mode === 'via-local') rmSync(localDir(record), { recursive: true, force: true });
}

async function purge(run: Run): Promise<void> {
  const r = run.record;
  const marker = markerPath(run.from.paths.state, r.name, r.leftoverStamp);
  // Exactly what removeSource renamed: shared and host paths were never renamed, so never purged.
  await run.from.conn.check(removeLeftoversCommand(marker, r.leftovers).argv, 'removing the source data (--purge-source)', { timeoutMs: 6 * 3600_000 });
  run.ctx.io.say(`${r.from}: --purge-source: removed ${r.leftovers.length} leftover paths`);
}

interface Undo {
  /** Abort steps that completed, in order. */
  done: AbortStep[];
  /** Target paths set aside (after the switch) instead of deleted. */
  setAside: string[];
}

/**
 * Undoes a record's effects in reverse (abortSteps): the automatic rollback of a failure (`cause`), or
 * --abort. Each step tolerates having been done already, so a failed undo can be finished by --abort:
 * the record is marked `aborting` first (no --resume from then on) and deleted only after the last step.
 * An undo that stops part way throws the error that says how far it got.
 */
async function rollback(run: Run, cause?: string): Promise<Undo> {
  const plan = abortSteps(run.record.phase);
  if ('refused' in plan) throw new UserError(plan.refused);
  const undo: Undo = { done: [], setAside: [] };
  try {
    if (!run.record.aborting) await save(run, run.record.phase, { aborting: true });
    await run.from.conn.runCommand(killLeftoverCommand(pidFile(run.from.paths.state, run.record.name)));
    for (const step of plan) {
      await undoStep(run, step, undo);
      undo.done.push(step);
    }
    await deleteRecords(run);
  } catch (err) {
    throw new UserError(undoFailedMessage(run.record, causeOf(err, cause ? 'rolling back' : 'undoing'), undo.done, cause));
  }
  return undo;
}

async function undoStep(run: Run, step: AbortStep, undo: Undo): Promise<void> {
  const { ctx, record } = run;
  switch (step) {
    case 'revert-git': {
      const back = await gitMoveGroupBack(ctx.repo, movePaths(run, ctx.fleet));
      if (back.length > 0) ctx.io.say(`git mv back → ${back.join(', ')}`);
      return;
    }
    case 'remove-target-containers': {
      const t = await engineOf(run.to);
      for (const n of record.group) {
        const r = await run.to.conn.runCommand(composeRemoveCommand({ target: t, paths: run.to.paths, name: n }), { timeoutMs: 5 * 60_000 });
        if (r.code !== 0) throw new UserError(`${record.to}: removing ${n} there failed: ${r.stderr.trim()}`);
      }
      return;
    }
    case 'start-source': {
      if (atLeast(record, 'target-up')) {
        // A run killed mid-removal may have renamed the source data already: it goes back first, the
        // container must find it. The marker goes with it (gc would list a stale entry).
        const marker = markerPath(run.from.paths.state, record.name, record.leftoverStamp);
        const cmd = restoreLeftoversCommand(marker, leftoverSuffix('migrated', record.leftoverStamp), leftoverPaths(record));
        const r = await run.from.conn.check(cmd.argv, 'putting the renamed source data back');
        for (const line of r.stdout.split('\n').filter(Boolean)) ctx.io.say(`${record.from}: ${line}`);
      }
      if (atLeast(record, 'switched')) {
        // The source container may be gone (removed before the kill): deploy it from git again.
        const fleet = await ctx.reload();
        const { result } = await deployOn(run, fleet, run.from, record.group, `migrate-abort-${newDeployId()}`);
        const failed = failedOutcomes(result);
        if (failed.length > 0) throw new UserError(`${record.from}: could not start ${record.group.join(', ')} again: ${failed.join('; ')}; the data is intact there, run man8s deploy ${record.from}`);
      } else if (record.wasRunning.length > 0) {
        const t = await engineOf(run.from);
        const r = await run.from.conn.run(startArgv(t, record.group.filter((n) => record.wasRunning.includes(n))), { timeoutMs: 5 * 60_000 });
        if (r.code !== 0) throw new UserError(`${record.from}: could not start ${record.wasRunning.join(', ')} again: ${r.stderr.trim()}; start it by hand (docker start)`);
      }
      ctx.io.say(`${record.from}: ${record.group.join(', ')} back`);
      return;
    }
    case 'redeploy-affected':
      await redeployAffected(run, await ctx.reload(), false);
      return;
    case 'remove-target-data': {
      const cmd = removeCopiesCommand(record.createdOnTarget);
      if (cmd) await run.to.conn.check(cmd.argv, 'removing the partial copy', { timeoutMs: 3600_000 });
      ctx.io.say(`${record.to}: removed the partial copy${keptNote(record)}`);
      return;
    }
    case 'set-aside-target-data': {
      const marker = { name: record.name, to: record.from, at: new Date().toISOString(), kind: 'aborted' as const };
      const cmd = renameLeftoversCommand(run.to.paths.state, marker, record.leftoverStamp, record.createdOnTarget);
      const r = await run.to.conn.check(cmd.argv, 'setting the target copy aside');
      undo.setAside = r.stdout.split('\n').filter(Boolean);
      // The full note (what is in it) ends the run: rolledBackMessage, or the --abort summary.
      ctx.io.say(`${record.to}: set aside ${undo.setAside.length ? undo.setAside.join(', ') : '(no copy there)'}${keptNote(record)}`);
      return;
    }
  }
}

/** Target paths that existed before the migration (--force) stay where they are, as they are. */
function keptNote(record: MigrationRecord): string {
  const kept = record.units.map((u) => u.toPath).filter((p) => !record.createdOnTarget.includes(p));
  return kept.length ? `; kept in place on ${record.to}: ${kept.join(', ')} (they existed before, --force)` : '';
}

// ---------------------------------------------------------------- entry points

export async function migrate(ctx: MigrateContext, o: MigrateOptions): Promise<MigrateSummary | undefined> {
  const { plan, affected } = await localPreflight(ctx.fleet, ctx.repo, o);
  const baseCommit = await headCommit(ctx.repo);
  if (o.viaLocal && process.getuid?.() !== 0) {
    throw new UserError('--via-local copies through this machine and must keep file owners: run man8s as root (sudo), or copy directly without --via-local');
  }
  let from: Side | undefined;
  let to: Side | undefined;
  try {
    from = await openSide(ctx, ctx.fleet, o.from, baseCommit);
    to = await openSide(ctx, ctx.fleet, o.to, baseCommit);
    const facts = await remotePreflight(ctx.fleet, plan, o, { from: from.conn, to: to.conn });
    const rsh = o.viaLocal ? undefined : await checkDirectReach(from, to, o.name);
    from.compose = facts.fromObserved.engine.compose;
    to.compose = facts.toObserved.engine.compose;
    ctx.io.say(formatMigrationPlan(plan, facts, affected, o));
    if (!o.yes && !(await ctx.io.confirm('Migrate?'))) {
      ctx.io.say('nothing changed');
      return undefined;
    }
    const now = new Date();
    const running = facts.fromObserved.containers.concat(facts.fromObserved.unlabeled).filter((c) => plan.group.includes(c.name) && c.running);
    const record: MigrationRecord = {
      version: 1,
      id: randomBytes(6).toString('hex'),
      name: o.name,
      group: plan.group,
      from: o.from,
      to: o.to,
      mode: o.viaLocal ? 'via-local' : 'direct',
      checksum: o.checksum,
      purgeSource: o.purgeSource,
      phase: 'copying',
      seq: 0,
      startedAt: now.toISOString(),
      updatedAt: now.toISOString(),
      by: deployer(),
      baseCommit,
      units: facts.units,
      createdOnTarget: facts.createdOnTarget,
      wasRunning: running.map((c) => c.name),
      affected,
      leftoverStamp: leftoverStamp(now),
      leftovers: [],
    };
    const run: Run = { ctx, record, from, to, warnings: [], rsh };
    return await runSteps(run, 'copying', true);
  } finally {
    await closeSide(to);
    await closeSide(from);
  }
}

/** Finds the record of an unfinished migration: on the named hosts, or on every host when none are named. */
async function findRecord(ctx: MigrateContext, which: { name?: string; from?: string; to?: string }): Promise<MigrationRecord> {
  const hosts = which.from && which.to ? [which.from, which.to] : [...ctx.fleet.hosts.keys()];
  const found: MigrationRecord[] = [];
  await Promise.all(
    hosts.map(async (h) => {
      const spec = ctx.fleet.hosts.get(h);
      if (!spec) throw new UserError(`no host "${h}" in the fleet`);
      const conn = await openHost(spec, ctx.connect);
      try {
        const r = await conn.runCommand(listRecordsCommand(hostPaths(spec.settings.storage_path).state), { timeoutMs: 60_000 });
        found.push(...parseRecordList(r.stdout));
      } finally {
        await conn.close();
      }
    }),
  );
  const matching = found.filter((r) => (!which.name || r.name === which.name) && (!which.from || r.from === which.from) && (!which.to || r.to === which.to));
  const byName = new Map<string, MigrationRecord>();
  for (const r of matching) byName.set(`${r.name} ${r.from} ${r.to}`, pickRecord(byName.get(`${r.name} ${r.from} ${r.to}`), r)!);
  if (byName.size === 0) throw new UserError(`no unfinished migration${which.name ? ` of ${which.name}` : ''} recorded on ${hosts.join(', ')}`);
  if (byName.size > 1) {
    throw new UserError(`several unfinished migrations: ${[...byName.keys()].join('; ')}; name one: man8s migrate --resume <name> <from> <to>`);
  }
  return [...byName.values()][0]!;
}

/** Connects and locks both hosts of a record and reads the freshest record from them. */
async function reopen(ctx: MigrateContext, found: MigrationRecord): Promise<Run> {
  const from = await openSide(ctx, ctx.fleet, found.from, found.baseCommit);
  let to: Side | undefined;
  try {
    to = await openSide(ctx, ctx.fleet, found.to, found.baseCommit);
    const [a, b] = await Promise.all([from, to].map(async (s) => parseRecordList((await s.conn.runCommand(listRecordsCommand(s.paths.state))).stdout).find((r) => r.id === found.id)));
    const record = pickRecord(a, b) ?? found;
    await from.conn.runCommand(killLeftoverCommand(pidFile(from.paths.state, record.name)));
    return { ctx, record, from, to, warnings: [] };
  } catch (err) {
    await closeSide(to);
    await closeSide(from);
    throw err;
  }
}

export async function resume(ctx: MigrateContext, which: { name?: string; from?: string; to?: string }): Promise<MigrateSummary> {
  const found = await findRecord(ctx, which);
  const run = await reopen(ctx, found);
  try {
    if (run.record.aborting) throw new UserError(resumeRefusedMessage(run.record));
    ctx.io.say(`resuming the migration of ${run.record.group.join(', ')}: ${run.record.from} → ${run.record.to}, from phase ${run.record.phase}`);
    // The steps after the switch need the git mv in the work tree (a fresh clone, another machine).
    if (atLeast(run.record, 'target-up') && !groupIsMoved(movePaths(run, ctx.fleet))) {
      await gitMoveGroup(ctx.repo, movePaths(run, ctx.fleet)).catch((err: unknown) => {
        throw new UserError(afterTargetUpMessage(run.record, causeOf(err, STEP_LABEL.switch)));
      });
    }
    return await runSteps(run, run.record.phase);
  } finally {
    await closeSide(run.to);
    await closeSide(run.from);
  }
}

export interface AbortSummary {
  record: MigrationRecord;
  /** Target paths set aside, not deleted: the target may have run after the switch. */
  setAside: string[];
  /** A neighbour that could not be redeployed back to the source address. */
  warnings: string[];
}

export async function abort(ctx: MigrateContext, which: { name?: string; from?: string; to?: string }): Promise<AbortSummary> {
  const found = await findRecord(ctx, which);
  const run = await reopen(ctx, found);
  try {
    ctx.io.say(`aborting the migration of ${run.record.group.join(', ')}: ${run.record.from} → ${run.record.to}, from phase ${run.record.phase}`);
    const undo = await rollback(run);
    removeStaging(run.record);
    return { record: run.record, setAside: undo.setAside, warnings: run.warnings };
  } finally {
    await closeSide(run.to);
    await closeSide(run.from);
  }
}

