/**
 * `man8s deploy`: every selected host, in parallel, goes through
 *   connect → lock → observe → plan            (prepareHosts: nothing changes yet)
 *   [the plan is shown and confirmed]
 *   apply → release the lock                   (applyHosts)
 *   deployed.yaml written and committed        (writeRecords, by the command)
 * A host that fails at any point is reported for that host; the others go on.
 */
import type { Fleet, HostSpec } from '../fleet/model.js';
import { UserError } from '../errors.js';
import type { Connection, ConnectionStats } from '../remote/transport.js';
import { newLockHolder, takeLockCommand, releaseLockCommand, parseLockResponse, lockHeldError, describeHolder, type LockHolder } from '../remote/lock.js';
import { observeAndPlan, type HostState } from '../plan/run.js';
import { hostHasChanges, type PulledImage } from '../plan/diff.js';
import { openHost, type ConnectSettings } from './hosts.js';
import { engineTarget, imageIdArgv, pullArgv } from '../remote/engine.js';
import { quoteArg, quoteArgv } from '../remote/quote.js';
import { applyHost, type ApplyOptions, type HostApplyResult, type Reporter } from './apply-host.js';

/** A host that is connected, locked, observed and planned: ready to apply. */
export interface PreparedHost {
  host: HostSpec;
  conn: Connection;
  holder: LockHolder;
  state: HostState;
  /** Said while taking the lock (a stale lock taken over). */
  notes: string[];
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
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Takes the host's lock, waiting up to lockWaitSec while another live deploy holds it. */
export async function takeLock(conn: Connection, holder: LockHolder, lockWaitSec: number): Promise<string[]> {
  const deadline = Date.now() + lockWaitSec * 1000;
  for (;;) {
    const r = await conn.run(takeLockCommand(holder).argv, { timeoutMs: 60_000 });
    const resp = parseLockResponse(r.stdout);
    if (resp.status === 'taken') return [];
    if (resp.status === 'took-over') {
      return [`took over a stale lock (${resp.reason ?? 'stale'}) from ${resp.holder ? describeHolder(resp.holder) : 'an unknown holder'}`];
    }
    if (resp.status !== 'held') throw new UserError(`${conn.host}: could not take the deploy lock (${r.stdout.trim() || r.stderr.trim()})`);
    if (Date.now() >= deadline) throw lockHeldError(conn.host, resp);
    await sleep(2000);
  }
}

export async function releaseLock(conn: Connection, holder: LockHolder): Promise<void> {
  await conn.run(releaseLockCommand(holder.token).argv, { timeoutMs: 30_000 });
}

/** Connect, lock, observe, plan. On failure the lock (if taken) is released and the connection closed. */
export async function prepareHost(fleet: Fleet, host: HostSpec, opts: PrepareOptions): Promise<PreparedHost> {
  const conn = await openHost(host, opts.connect);
  const holder = newLockHolder({ host: host.name, commit: opts.commit });
  let locked = false;
  try {
    const notes = await takeLock(conn, holder, opts.lockWaitSec);
    locked = true;
    const pulled = opts.pull ? await pullImages(host, conn, opts.only) : undefined;
    const state = await observeAndPlan(fleet, host, conn, { ...(opts.only ? { only: opts.only } : {}), recordDir: opts.recordDir(host), ...(pulled ? { pulled } : {}) });
    return { host, conn, holder, state, notes };
  } catch (err) {
    if (locked) await releaseLock(conn, holder).catch(() => undefined);
    await conn.close();
    throw err;
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

/** Applies a prepared host's plan (when it has changes), then releases its lock and closes the connection. */
export async function applyPrepared(fleet: Fleet, p: PreparedHost, opts: ApplyOptions, report: Reporter): Promise<AppliedHost> {
  let result: HostApplyResult | null;
  try {
    result = hostHasChanges(p.state.plan, { prune: opts.prune === true }) && p.state.plan.errors.length === 0 ? await applyHost(fleet, p.state, p.conn, opts, report) : null;
  } finally {
    await releaseLock(p.conn, p.holder).catch(() => undefined);
    await p.conn.close();
  }
  return { prepared: p, result, stats: p.conn.stats() };
}

/** Releases and closes a prepared host that will not be applied (declined, or its plan has errors). */
export async function abandon(p: PreparedHost): Promise<ConnectionStats> {
  await releaseLock(p.conn, p.holder).catch(() => undefined);
  await p.conn.close();
  return p.conn.stats();
}

/** A unique, sortable id for this deploy's backup folder on the hosts. */
export function newDeployId(now: Date = new Date()): string {
  return `${now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}-${process.pid}`;
}
