/**
 * What a failed, interrupted or aborted migration does and says (outcome.ts, abortSteps), and the
 * set-aside / restore / removal scripts of leftovers.ts, run here with sh on real folders.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { ExitCode, UserError } from '../../src/errors.js';
import {
  afterTargetUpMessage,
  causeOf,
  failureAction,
  interruptedMessage,
  resumeRefusedMessage,
  rolledBackMessage,
  undoFailedMessage,
  whereItIs,
} from '../../src/migrate/outcome.js';
import type { Phase } from '../../src/migrate/state.js';
import { markerPath, parseMarkers, listMarkersCommand, removeLeftoversCommand, renameLeftoversCommand, restoreLeftoversCommand } from '../../src/migrate/leftovers.js';
import type { RemoteCommand } from '../../src/remote/transport.js';

const rec = (phase: Phase) => ({ name: 'app', group: ['app'], from: 'relink', to: 'lothric', phase });

describe('a failed migration', () => {
  it('rolls back on ANY error before the target runs, a git error at the switch too', () => {
    class GitError extends Error {}
    for (const phase of ['copying', 'stopped', 'verified', 'switched'] as const) {
      assert.equal(failureAction(rec(phase), new GitError('fatal: Unable to create index.lock')), 'roll-back', phase);
      assert.equal(failureAction(rec(phase), new UserError('lothric: app did not start')), 'roll-back', phase);
    }
    assert.equal(failureAction(rec('target-up'), new Error('boom')), 'hint');
    assert.equal(failureAction(rec('target-up'), new UserError('tarrey: unreachable')), 'hint');
    assert.equal(failureAction(rec('stopped'), new UserError('interrupted', ExitCode.interrupted)), 'interrupted');
  });

  it('names the cause in one line: a UserError as it is, any other error by its first line and step', () => {
    assert.equal(causeOf(new UserError('lothric: app did not start: exit 3'), 'deploying on the target'), 'lothric: app did not start: exit 3');
    const git = new Error("fatal: Unable to create '/f/.git/index.lock': File exists.\n\nAnother git process seems to be running in this repository");
    assert.equal(causeOf(git, 'git mv (the switch)'), "git mv (the switch): fatal: Unable to create '/f/.git/index.lock': File exists.");
    assert.equal(causeOf('weird', 'verifying the copy'), 'verifying the copy: weird');
  });

  it('after a rollback: one line, where it runs, the cause, and the target copy kept aside', () => {
    const m = rolledBackMessage(rec('switched'), 'git mv (the switch): fatal: x', ['/var/lib/man8s/data/app.man8s-aborted-T']);
    assert.equal(m.includes('\n'), false);
    assert.equal(
      m,
      'migration of app failed and was rolled back: app runs on relink again, git is unchanged; ' +
        'lothric keeps its copy as /var/lib/man8s/data/app.man8s-aborted-T: app may have run on lothric after the switch, and whatever it wrote there is in that copy, not on relink; ' +
        'man8s gc lothric lists and removes it; cause: git mv (the switch): fatal: x',
    );
    assert.equal(rolledBackMessage(rec('stopped'), 'c', []), 'migration of app failed and was rolled back: app runs on relink again, git is unchanged; cause: c');
  });

  it('after the target runs: the cause, then both ways on', () => {
    assert.equal(
      afterTargetUpMessage(rec('target-up'), 'tarrey: unreachable'),
      'tarrey: unreachable; app runs on lothric now: finish the migration with man8s migrate --resume app relink lothric, or go back to relink with man8s migrate --abort app relink lothric',
    );
  });

  it('a rollback that fails keeps the original cause, says where things are and how to finish', () => {
    const lost = 'relink: the ssh connection was lost (connection closed) while running `docker start app`; check the host and run again';
    const m = undoFailedMessage(rec('stopped'), lost, [], 'lothric: copy failed (rsync exit 23)');
    assert.match(m, /^migration of app failed, and rolling it back failed too: relink: the ssh connection was lost/);
    assert.match(m, /now app is STOPPED on relink \(downtime continues\), git is unchanged/);
    assert.match(m, /the migration record is kept on relink and lothric: once that is fixed \(a lost connection: once both hosts answer again\), finish the undo with man8s migrate --abort app relink lothric/);
    assert.match(m, /; cause: lothric: copy failed \(rsync exit 23\)$/);
    // --abort that fails: no cause of its own.
    assert.match(undoFailedMessage(rec('target-up'), 'x', ['revert-git', 'remove-target-containers']), /^undoing the migration of app failed: x; now app is not running anywhere: removed on lothric, not yet started again on relink, git is unchanged;/);
  });

  it('knows where the container is at every phase and undo step', () => {
    assert.equal(whereItIs(rec('copying')), 'app still runs on relink, git is unchanged');
    assert.equal(whereItIs(rec('switched')), 'app is STOPPED on relink (downtime continues), the work tree holds the uncommitted git mv');
    assert.equal(whereItIs(rec('target-up')), 'app runs on lothric, the work tree holds the uncommitted git mv');
    assert.equal(whereItIs(rec('target-up'), ['revert-git', 'remove-target-containers', 'start-source']), 'app runs on relink again, git is unchanged');
    assert.match(interruptedMessage(rec('stopped')), /^interrupted during phase stopped \(app is STOPPED on relink .*--resume app relink lothric, or undo with man8s migrate --abort app relink lothric$/);
  });

  it('refuses --resume once an undo began', () => {
    assert.match(resumeRefusedMessage(rec('switched')), /already began at phase switched: relink may run on its own data again, so it cannot be resumed; finish the undo with man8s migrate --abort app relink lothric$/);
  });
});

function sh(cmd: RemoteCommand): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(cmd.argv[0]!, cmd.argv.slice(1), { encoding: 'utf8', ...(cmd.stdin !== undefined ? { input: cmd.stdin } : {}) });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

function scratch(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'man8s-leftovers-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'storage/data/app'), { recursive: true });
  writeFileSync(join(dir, 'storage/data/app/written-on-target'), 'new\n');
  mkdirSync(join(dir, 'state'));
  return dir;
}

describe('setting data aside and back (run with sh)', () => {
  it('sets the target copy aside with an aborted marker, again without harm, never onto an existing name', (t) => {
    const d = scratch(t);
    const unit = join(d, 'storage/data/app');
    const cmd = renameLeftoversCommand(join(d, 'state'), { name: 'app', to: 'relink', at: 'now', kind: 'aborted' }, 'T1', [unit, join(d, 'storage/log/app')]);
    const first = sh(cmd);
    assert.equal(first.code, 0, first.stderr);
    assert.equal(first.stdout, `${unit}.man8s-aborted-T1\n`);
    assert.equal(readFileSync(join(`${unit}.man8s-aborted-T1`, 'written-on-target'), 'utf8'), 'new\n');
    assert.equal(existsSync(unit), false);
    // gc finds it by its marker.
    const markers = parseMarkers(execFileSync(listMarkersCommand(join(d, 'state')).argv[0]!, listMarkersCommand(join(d, 'state')).argv.slice(1), { encoding: 'utf8' }));
    assert.deepEqual(markers.map((m) => [m.file, m.marker.kind, m.marker.paths[0]]), [[markerPath(join(d, 'state'), 'app', 'T1', 'aborted'), 'aborted', `${unit}.man8s-aborted-T1`]]);
    // A second run (an abort run again) reports the same path and changes nothing.
    assert.deepEqual(sh(cmd), { code: 0, stdout: `${unit}.man8s-aborted-T1\n`, stderr: '' });
    // A new folder under the old name is never moved into the set-aside one.
    mkdirSync(unit);
    const clash = sh(cmd);
    assert.equal(clash.code, 4);
    assert.match(clash.stderr, /already exists: not renaming/);
    assert.equal(existsSync(join(`${unit}.man8s-aborted-T1`, 'app')), false);
  });

  it('puts renamed source data back and drops the marker; keeps both names, and the marker, on a clash', (t) => {
    const d = scratch(t);
    const unit = join(d, 'storage/data/app');
    const state = join(d, 'state');
    assert.equal(sh(renameLeftoversCommand(state, { name: 'app', to: 'lothric', at: 'now', kind: 'migrated' }, 'T2', [unit])).code, 0);
    const marker = markerPath(state, 'app', 'T2');
    assert.ok(existsSync(marker));
    const back = sh(restoreLeftoversCommand(marker, '.man8s-migrated-T2', [unit, join(d, 'storage/log/app')]));
    assert.deepEqual(back, { code: 0, stdout: `restored ${unit}\n`, stderr: '' });
    assert.equal(readFileSync(join(unit, 'written-on-target'), 'utf8'), 'new\n');
    assert.equal(existsSync(marker), false, 'no stale marker for gc to list');

    assert.equal(sh(renameLeftoversCommand(state, { name: 'app', to: 'lothric', at: 'now', kind: 'migrated' }, 'T2', [unit])).code, 0);
    mkdirSync(unit);
    const clash = sh(restoreLeftoversCommand(marker, '.man8s-migrated-T2', [unit]));
    assert.equal(clash.code, 0);
    assert.match(clash.stdout, /^both .* exist: kept both\n$/);
    assert.ok(existsSync(marker), 'the set-aside copy stays listed');
  });

  it('gc removes aborted and migrated leftovers, and nothing without the suffix', (t) => {
    const d = scratch(t);
    const unit = join(d, 'storage/data/app');
    const state = join(d, 'state');
    assert.equal(sh(renameLeftoversCommand(state, { name: 'app', to: 'relink', at: 'now', kind: 'aborted' }, 'T3', [unit])).code, 0);
    const marker = markerPath(state, 'app', 'T3', 'aborted');
    const refused = sh(removeLeftoversCommand(marker, [`${unit}.man8s-aborted-T3`, join(d, 'storage/data')]));
    assert.equal(refused.code, 3);
    assert.ok(existsSync(`${unit}.man8s-aborted-T3`));
    assert.equal(sh(removeLeftoversCommand(marker, [`${unit}.man8s-aborted-T3`])).code, 0);
    assert.equal(existsSync(`${unit}.man8s-aborted-T3`), false);
    assert.equal(existsSync(marker), false);
  });
});
