import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  describeHolder,
  lockHeldError,
  newLockHolder,
  parseLockResponse,
  readLockCommand,
  refreshLockCommand,
  releaseLockCommand,
  takeLockCommand,
} from '../../src/remote/lock.js';
import type { RemoteCommand, RunResult } from '../../src/remote/transport.js';
import { keepLock, lockRefreshEveryMs } from '../../src/apply/deploy.js';
import { writeFileSync } from 'node:fs';
import { UserError } from '../../src/errors.js';

function run(cmd: RemoteCommand): { code: number; out: string } {
  const r = spawnSync(cmd.argv[0]!, cmd.argv.slice(1), { input: cmd.stdin ?? '', encoding: 'utf8' });
  return { code: r.status ?? -1, out: r.stdout + r.stderr };
}

test('take, held by another, refresh, release by owner only, force unlock', () => {
  const dir = join(mkdtempSync(join(tmpdir(), 'man8s-lock-')), 'man8s');
  const a = newLockHolder({ host: 'relink', commit: 'abcdef0123456789', who: 'alice@laptop', ttlSec: 600 });
  const b = newLockHolder({ host: 'relink', who: 'ci@runner' });

  const t1 = run(takeLockCommand(a, { dir }));
  assert.equal(t1.code, 0, t1.out);
  assert.deepEqual(parseLockResponse(t1.out), { status: 'taken' });
  assert.deepEqual(JSON.parse(readFileSync(join(dir, 'holder.json'), 'utf8')), a);

  // Run locally there is no sshd ancestor: the session is unknown, so only the TTL decides.
  const t2 = run(takeLockCommand(b, { dir }));
  assert.equal(t2.code, 3);
  const held = parseLockResponse(t2.out);
  assert.equal(held.status, 'held');
  assert.equal(held.reason, 'session-unknown');
  assert.deepEqual(held.holder, a);
  assert.ok(held.expiresIn! > 590 && held.expiresIn! <= 600);
  const err = lockHeldError('relink', held);
  assert.ok(err instanceof UserError);
  assert.equal(err.message, `relink: locked by alice@laptop (pid ${a.pid}, commit abcdef012345, since ${a.startedAt}); wait for it to finish (--lock-wait), or if it is gone run: man8s unlock relink`);

  assert.equal(parseLockResponse(run(readLockCommand({ dir })).out).status, 'held');
  assert.equal(run(refreshLockCommand(a, { dir })).code, 0);
  assert.equal(run(refreshLockCommand(b, { dir })).code, 3);

  const notOwner = run(releaseLockCommand(b.token, { dir }));
  assert.equal(notOwner.code, 3);
  assert.equal(parseLockResponse(notOwner.out).status, 'not-owner');
  assert.ok(existsSync(dir));

  const released = run(releaseLockCommand(a.token, { dir }));
  assert.equal(released.code, 0);
  assert.equal(parseLockResponse(released.out).status, 'released');
  assert.equal(existsSync(dir), false);
  assert.deepEqual(parseLockResponse(run(releaseLockCommand(a.token, { dir })).out), { status: 'free' });

  assert.equal(run(takeLockCommand(b, { dir })).code, 0);
  const forced = run(releaseLockCommand(undefined, { dir, force: true }));
  assert.equal(parseLockResponse(forced.out).status, 'released');
  assert.equal(parseLockResponse(forced.out).holder?.who, 'ci@runner');
});

test('an expired lock is taken over, reporting the previous holder', () => {
  const dir = join(mkdtempSync(join(tmpdir(), 'man8s-lock-')), 'man8s');
  const old = newLockHolder({ host: 'relink', who: 'old@gone', ttlSec: 0 });
  assert.equal(run(takeLockCommand(old, { dir })).code, 0);
  const fresh = newLockHolder({ host: 'relink', who: 'new@here' });
  const r = run(takeLockCommand(fresh, { dir }));
  assert.equal(r.code, 0, r.out);
  const resp = parseLockResponse(r.out);
  assert.equal(resp.status, 'took-over');
  assert.equal(resp.reason, 'expired');
  assert.equal(resp.holder?.who, 'old@gone');
  assert.equal(JSON.parse(readFileSync(join(dir, 'holder.json'), 'utf8')).who, 'new@here');
});

test('force takes a live lock', () => {
  const dir = join(mkdtempSync(join(tmpdir(), 'man8s-lock-')), 'man8s');
  run(takeLockCommand(newLockHolder({ host: 'h', who: 'a@a' }), { dir }));
  const r = parseLockResponse(run(takeLockCommand(newLockHolder({ host: 'h', who: 'b@b' }), { dir, force: true })).out);
  assert.equal(r.status, 'took-over');
  assert.equal(r.holder?.who, 'a@a');
});

test('lock responses parse strictly; holder description', () => {
  assert.throws(() => parseLockResponse('garbage'), /unexpected lock response/);
  assert.deepEqual(parseLockResponse('status=stale reason=session-gone expires_in=-5\nholder=not json\n'), {
    status: 'stale',
    reason: 'session-gone',
    expiresIn: -5,
  });
  assert.equal(describeHolder({ who: 'w', host: 'h', pid: 1, startedAt: 't', ttl: 1, token: 'x' }), 'w (pid 1, since t)');
});

/** A connection stand-in that runs each command here with sh, counting them. */
function localConn(): { host: string; runs: number; run(argv: readonly string[]): Promise<RunResult> } {
  return {
    host: 'relink',
    runs: 0,
    async run(argv) {
      this.runs++;
      const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8' });
      return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
    },
  };
}

const until = async (what: () => boolean, ms = 5000) => {
  for (const end = Date.now() + ms; !what() && Date.now() < end; ) await new Promise((r) => setTimeout(r, 10));
  assert.ok(what(), 'condition not met in time');
};

test('a lock past its expiry is stale; a refresh by its owner makes it held for another TTL', () => {
  const dir = join(mkdtempSync(join(tmpdir(), 'man8s-lock-')), 'man8s');
  const a = newLockHolder({ host: 'relink', who: 'a@a', ttlSec: 600 });
  assert.equal(run(takeLockCommand(a, { dir })).code, 0);
  writeFileSync(join(dir, 'expires'), `${Math.floor(Date.now() / 1000) - 1}\n`);
  assert.deepEqual([parseLockResponse(run(readLockCommand({ dir })).out).status, parseLockResponse(run(readLockCommand({ dir })).out).reason], ['stale', 'expired']);
  const refreshed = run(refreshLockCommand(a, { dir }));
  assert.equal(refreshed.code, 0);
  assert.equal(parseLockResponse(refreshed.out).status, 'refreshed');
  const state = parseLockResponse(run(readLockCommand({ dir })).out);
  assert.equal(state.status, 'held');
  assert.ok(state.expiresIn! > 590 && state.expiresIn! <= 600, `expires in ${state.expiresIn}`);
  assert.deepEqual(refreshLockCommand(a, { dir }).argv.slice(3), ['man8s-lock-refresh', dir, a.token, '600']);
});

test('keepLock refreshes a held lock on its connection until stopped', async () => {
  const dir = join(mkdtempSync(join(tmpdir(), 'man8s-lock-')), 'man8s');
  const a = newLockHolder({ host: 'relink', who: 'a@a', ttlSec: 600 });
  assert.equal(run(takeLockCommand(a, { dir })).code, 0);
  writeFileSync(join(dir, 'expires'), `${Math.floor(Date.now() / 1000) + 5}\n`);
  const conn = localConn();
  const keeper = keepLock(conn, a, { everyMs: 20, dir });
  await until(() => conn.runs >= 3);
  keeper.stop();
  const runs = conn.runs;
  assert.ok(parseLockResponse(run(readLockCommand({ dir })).out).expiresIn! > 590, 'extended by the TTL');
  await new Promise((r) => setTimeout(r, 80));
  assert.equal(conn.runs, runs, 'no refresh after stop');
  assert.equal(keeper.lost.aborted, false);
  // By default a sixth of the TTL: an hour-long lock is refreshed every 10 minutes.
  assert.equal(lockRefreshEveryMs(newLockHolder({ host: 'h', ttlSec: 3600 })), 600_000);
});

test('keepLock reports a lock that is no longer ours, and stops refreshing it', async () => {
  const dir = join(mkdtempSync(join(tmpdir(), 'man8s-lock-')), 'man8s');
  const a = newLockHolder({ host: 'relink', who: 'a@a' });
  assert.equal(run(takeLockCommand(a, { dir })).code, 0);
  const conn = localConn();
  const keeper = keepLock(conn, a, { everyMs: 20, dir });
  await until(() => conn.runs >= 1);
  // Someone ran `man8s unlock relink` and another deploy took the lock.
  assert.equal(parseLockResponse(run(takeLockCommand(newLockHolder({ host: 'relink', who: 'b@b' }), { dir, force: true })).out).status, 'took-over');
  await until(() => keeper.lost.aborted);
  assert.match(String(keeper.lost.reason), /^relink: the deploy lock is no longer ours \(not-owner\)/);
  const runs = conn.runs;
  await new Promise((r) => setTimeout(r, 80));
  assert.equal(conn.runs, runs);
  assert.equal(JSON.parse(readFileSync(join(dir, 'holder.json'), 'utf8')).who, 'b@b', 'the new holder keeps it');
});
