/**
 * `man8s deploy`: every selected host, in parallel, goes through
 *   connect → lock → observe → plan            (prepareHosts: nothing changes yet)
 *   [the plan is shown and confirmed]
 *   apply → release the lock                   (applyHosts)
 *   deployed.yaml written and committed        (writeRecords, by the command)
 * A host that fails at any point is reported for that host; the others go on.
 */
import { join } from 'node:path';
import type { Fleet, HostSpec } from '../fleet/model.js';
import { FLEET_SETTINGS_FILE } from '../fleet/load.js';
import { ExitCode, UserError } from '../errors.js';
import type { Connection, ConnectionStats } from '../remote/transport.js';
import { newLockHolder, takeLockCommand, releaseLockCommand, refreshLockCommand, parseLockResponse, lockHeldError, describeHolder, type LockHolder, type LockResponse } from '../remote/lock.js';
import { observeAndPlan, planObserved, type HostState } from '../plan/run.js';
import { lockAndObserveHost, observeOptions } from '../remote/observe.js';
import { hostHasChanges, type PulledImage } from '../plan/diff.js';
import { HostFailure, openHost, unreachedStats, type ConnectSettings } from './hosts.js';
import { sleep, unlessInterrupted } from './interrupt.js';
import { engineTarget, imageIdArgv, pullArgv } from '../remote/engine.js';
import { quoteArg, quoteArgv } from '../remote/quote.js';
import { applyHost, type ApplyOptions, type HostApplyResult, type Reporter } from './apply-host.js';

/** A host that is connected, locked, observed and planned: ready to apply. */
export interface PreparedHost {
  host: HostSpec;
  conn: Connection;
  holder: LockHolder;
  /** Keeps the lock from expiring while it is held (see keepLock). */
  keeper: LockKeeper;
  state: HostState;
  /** Said while taking the lock (a stale lock taken over). */
  notes: string[];
}

/**
 * What a deploy must refuse to run uncommitted: every host's folder and the fleet settings, whose
 * defaults (engine, ssh, storage_path…) shape what is rendered for every host.
 */
export function committedInputs(fleet: Pick<Fleet, 'root' | 'repoRoot'>): string[] {
  return [fleet.root, join(fleet.repoRoot, FLEET_SETTINGS_FILE)];
}

export interface PrepareOptions {
  connect: ConnectSettings;
  commit: string;
  only?: readonly string[];
  /** Wait this long for a lock another deploy holds before giving up. */
  lockWaitSec: number;
  recordDir: (host: HostSpec) => string;
  /** Pull the images of the selected containers before observing (mbctl run --pull). */
  pull?: boolean;
  /** Ctrl-C / SIGTERM: stop at the next step, release the lock, close (throws interruptedError). */
  signal?: AbortSignal;
}

/** The error of a host whose preparation was interrupted: nothing was changed on it. */
export function interruptedError(host: string): UserError {
  return new UserError(`${host}: interrupted before anything was changed`, ExitCode.interrupted);
}

/** The notes for a lock just taken: a stale one taken over says from whom. */
function lockNotes(resp: LockResponse): string[] {
  if (resp.status !== 'took-over') return [];
  return [`took over a stale lock (${resp.reason ?? 'stale'}) from ${resp.holder ? describeHolder(resp.holder) : 'an unknown holder'}`];
}

/**
 * Takes the host's lock, waiting up to lockWaitSec while another live deploy holds it (or until
 * `signal`). `first` is the answer of an attempt already made (lockAndObserveHost), if any.
 */
export async function takeLock(conn: Connection, holder: LockHolder, lockWaitSec: number, signal?: AbortSignal, first?: LockResponse): Promise<string[]> {
  const deadline = Date.now() + lockWaitSec * 1000;
  for (let resp = first; ; resp = undefined) {
    if (signal?.aborted) throw interruptedError(conn.host);
    let said = '';
    if (!resp) {
      const r = await conn.run(takeLockCommand(holder).argv, { timeoutMs: 60_000 });
      said = r.stdout.trim() || r.stderr.trim();
      resp = parseLockResponse(r.stdout);
    }
    if (resp.status === 'taken' || resp.status === 'took-over') return lockNotes(resp);
    if (resp.status !== 'held') throw new UserError(`${conn.host}: could not take the deploy lock (${said || resp.reason || resp.status})`);
    if (Date.now() >= deadline) throw lockHeldError(conn.host, resp);
    await sleep(2000, signal);
  }
}

export async function releaseLock(conn: Connection, holder: LockHolder): Promise<void> {
  await conn.run(releaseLockCommand(holder.token).argv, { timeoutMs: 30_000 });
}

/** A sixth of the TTL: five refreshes may fail or queue behind busy channels before the lock expires. */
export function lockRefreshEveryMs(holder: LockHolder): number {
  return (holder.ttl * 1000) / 6;
}

export interface LockKeeper {
  /** Aborted when a refresh finds the lock is no longer ours (forced unlock, taken over); reason says how. */
  readonly lost: AbortSignal;
  stop(): void;
}

/**
 * Refreshes a held lock every `everyMs` (default lockRefreshEveryMs) on the host's connection, so a
 * deploy longer than the TTL is not taken for stale while it applies. One short command per interval;
 * a refresh that fails to run (connection lost) is left to the step that will see the same failure.
 */
export function keepLock(conn: Pick<Connection, 'run' | 'host'>, holder: LockHolder, o: { everyMs?: number; dir?: string } = {}): LockKeeper {
  const lost = new AbortController();
  let busy = false;
  const tick = async () => {
    if (busy || lost.signal.aborted) return;
    busy = true;
    try {
      const r = await conn.run(refreshLockCommand(holder, o.dir ? { dir: o.dir } : {}).argv, { timeoutMs: 60_000 });
      const resp = parseLockResponse(r.stdout);
      if (resp.status !== 'refreshed') {
        stop();
        lost.abort(`${conn.host}: the deploy lock is no longer ours (${resp.status}): someone ran man8s unlock or took it over`);
      }
    } catch {
      // not run: the connection is gone, and the running step reports that
    } finally {
      busy = false;
    }
  };
  const timer = setInterval(() => void tick(), o.everyMs ?? lockRefreshEveryMs(holder));
  timer.unref();
  const stop = () => clearInterval(timer);
  return { lost: lost.signal, stop };
}

/**
 * Connect, lock, observe, plan. On failure or interruption the lock (if taken) is released and the
 * connection closed; the error carries the host's stats (HostFailure) so --stats still shows it.
 */
export async function prepareHost(fleet: Fleet, host: HostSpec, opts: PrepareOptions): Promise<PreparedHost> {
  // Nothing is held while connecting, so an interruption need not wait for the handshake to end.
  const started = Date.now();
  const gaveUp = () => new HostFailure(interruptedError(host.name).message, unreachedStats(host.name, started), ExitCode.interrupted);
  const conn = await unlessInterrupted(openHost(host, opts.connect), opts.signal, gaveUp, (late) => late.close());
  const holder = newLockHolder({ host: host.name, commit: opts.commit });
  let keeper: LockKeeper | undefined;
  const checkpoint = () => {
    if (opts.signal?.aborted) throw interruptedError(host.name);
  };
  const planOpts = { ...(opts.only ? { only: opts.only } : {}), recordDir: opts.recordDir(host) };
  try {
    checkpoint();
    // Usually the lock is free: take it and observe in one round trip. Otherwise wait for it, then
    // observe; and a pull must come between the two, so that observe sees the pulled images.
    const first = opts.pull ? undefined : await lockAndObserveHost(conn, observeOptions(host.settings), holder);
    const notes = await takeLock(conn, holder, opts.lockWaitSec, opts.signal, first?.lock);
    keeper = keepLock(conn, holder);
    checkpoint();
    let state: HostState;
    if (first?.observed) state = await planObserved(fleet, host, first.observed, planOpts);
    else {
      const pulled = opts.pull ? await pullImages(host, conn, opts.only) : undefined;
      checkpoint();
      state = await observeAndPlan(fleet, host, conn, { ...planOpts, ...(pulled ? { pulled } : {}) });
    }
    checkpoint();
    return { host, conn, holder, keeper, state, notes };
  } catch (err) {
    keeper?.stop();
    // Also when no keeper started: the lock may be ours already (taken with observe, whose output then
    // failed to parse). Release only ever removes a lock holding this run's token.
    await releaseLock(conn, holder).catch(() => undefined);
    await conn.close();
    throw err instanceof UserError ? new HostFailure(err.message, conn.stats(), err.exitCode) : err;
  }
}

/**
 * Pulls the images of the host's (selected) containers in one command and reports each image's id
 * before and after (`image inspect` works the same on both engines); a failed pull names the image.
 */
async function pullImages(host: HostSpec, conn: Connection, only?: readonly string[]): Promise<Record<string, PulledImage>> {
  const images = [...new Set([...host.containers.values()].filter((c) => !only?.length || only.includes(c.name)).map((c) => c.config.image))].sort();
  if (images.length === 0) return {};
  const target = engineTarget(host.settings);
  const idOf = (image: string) => `$(${quoteArgv(imageIdArgv(target, image))} 2>/dev/null)`;
  const script = images
    .map((i) => `b=${idOf(i)}; ${quoteArgv(pullArgv(target, i))} >/dev/null || { echo ${quoteArg(`FAILED ${i}`)}; exit 1; }; printf '%s\\t%s\\t%s\\n' ${quoteArg(i)} "$b" ${idOf(i)}`)
    .join('\n');
  const r = await conn.run(['sh', '-c', script], { timeoutMs: 30 * 60_000 });
  if (r.code !== 0) {
    const image = /^FAILED (.*)$/m.exec(r.stdout)?.[1] ?? 'an image';
    throw new UserError(`${host.name}: pulling ${image} failed: ${r.stderr.trim().split('\n').slice(-2).join(' / ')}; check the image name and that the host can reach its registry`);
  }
  const pulled: Record<string, PulledImage> = {};
  for (const line of r.stdout.split('\n')) {
    const [image, before, after] = line.split('\t');
    if (image && after !== undefined) pulled[image] = { before: before ?? '', after };
  }
  return pulled;
}

export interface AppliedHost {
  prepared: PreparedHost;
  /** null when the host had nothing to change. */
  result: HostApplyResult | null;
  stats: ConnectionStats;
}

/**
 * Applies a prepared host's plan (when it has changes), then releases its lock and closes the connection.
 * Losing the lock (see keepLock) stops the apply at its next safe point, like Ctrl-C.
 */
export async function applyPrepared(fleet: Fleet, p: PreparedHost, opts: ApplyOptions, report: Reporter): Promise<AppliedHost> {
  const onLost = () => report({ host: p.host.name, kind: 'step', text: `${String(p.keeper.lost.reason)}; stopping at the next safe point` });
  p.keeper.lost.addEventListener('abort', onLost, { once: true });
  const signal = opts.signal ? AbortSignal.any([opts.signal, p.keeper.lost]) : p.keeper.lost;
  let result: HostApplyResult | null;
  try {
    result = hostHasChanges(p.state.plan, { prune: opts.prune === true }) && p.state.plan.errors.length === 0 ? await applyHost(fleet, p.state, p.conn, { ...opts, signal }, report) : null;
  } finally {
    p.keeper.lost.removeEventListener('abort', onLost);
    await abandon(p);
  }
  return { prepared: p, result, stats: p.conn.stats() };
}

/** Releases and closes a prepared host that will not be applied (declined, interrupted, or its plan has errors). */
export async function abandon(p: PreparedHost): Promise<ConnectionStats> {
  p.keeper.stop();
  await releaseLock(p.conn, p.holder).catch(() => undefined);
  await p.conn.close();
  return p.conn.stats();
}

/** A unique, sortable id for this deploy's backup folder on the hosts. */
export function newDeployId(now: Date = new Date()): string {
  return `${now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}-${process.pid}`;
}
