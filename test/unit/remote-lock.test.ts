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
import type { RemoteCommand } from '../../src/remote/transport.js';
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
