/**
 * The terminal's progress tree, host → step → container: the outline a plan gives, and how apply
 * events tick it off (HostTree, the state machine behind the listr2 tasks).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyOutline, type DeployEvent } from '../../src/apply/apply-host.js';
import { HostTree, type TreeTask } from '../../src/cli/progress.js';
import type { ContainerPlan, HostPlan } from '../../src/plan/diff.js';

function c(name: string, level: number, action: ContainerPlan['action'], o: { files?: boolean; mounts?: boolean } = {}): ContainerPlan {
  return {
    name,
    level,
    action,
    reasons: [],
    fileChanges: o.files ? [{ type: 'conf', path: 'a.conf', change: 'changed', kind: 'file' }] : [],
    drift: false,
    hostFilesHash: 'h',
    desired: { name, mounts: o.mounts ? [{ type: 'data', target: '/data', source: `/var/lib/man8s/data/${name}/data`, owner: [0, 0], perm: '755', file: false }] : [] } as unknown as ContainerPlan['desired'],
  };
}

const plan = (containers: ContainerPlan[], orphans = 0): HostPlan => ({
  host: 'relink',
  containers,
  orphanContainers: Array.from({ length: orphans }, (_, i) => ({ name: `ghost${i}` }) as HostPlan['orphanContainers'][number]),
  orphanFolders: [],
  errors: [],
  warnings: [],
});

test('the outline follows the apply: sync, mounts, one step per level with its containers, prune', () => {
  const p = plan([c('db', 0, 'create', { mounts: true }), c('cache', 0, 'none'), c('web', 1, 'restart', { files: true }), c('app', 2, 'none', { files: true })], 1);
  assert.deepEqual(applyOutline(p, { prune: true }), [
    { key: 'sync', title: 'sync conf/plugin', containers: [] },
    { key: 'mounts', title: 'prepare mounts', containers: [] },
    { key: 'level:0', title: 'level 0', containers: [{ name: 'db', title: 'create db' }] },
    { key: 'level:1', title: 'level 1', containers: [{ name: 'web', title: 'restart web' }] },
    { key: 'prune', title: 'prune orphans', containers: [] },
  ]);
  assert.deepEqual(applyOutline(p).map((s) => s.key), ['sync', 'mounts', 'level:0', 'level:1'], 'no prune step without --prune');
  assert.deepEqual(applyOutline(plan([c('web', 0, 'restart')])).map((s) => s.key), ['level:0'], 'no mounts to prepare for a restart');
});

/** A stand-in for a listr2 task, recording what the tree shows on it. */
function fakeTask(): TreeTask & { skippedWith?: string } {
  const t = {
    title: '',
    output: '',
    skippedWith: undefined as string | undefined,
    skip(message?: string) {
      t.skippedWith = message ?? '';
    },
  };
  return t;
}

async function stateOf(p: Promise<void>): Promise<string> {
  return Promise.race([p.then(() => 'done', (e: Error) => `failed: ${e.message}`), new Promise<string>((r) => setTimeout(() => r('pending'), 5))]);
}

const step = (key: string, text: string): DeployEvent => ({ host: 'relink', kind: 'step', step: key, text });
const detail = (text: string): DeployEvent => ({ host: 'relink', kind: 'step', text });
const ctr = (name: string, status: Extract<DeployEvent, { kind: 'container' }>['status'], text?: string): DeployEvent => ({ host: 'relink', kind: 'container', name, status, ...(text ? { text } : {}) });

test('the tree ticks off steps and containers as the apply reports them; a failure and its rollback show', async () => {
  const outline = applyOutline(plan([c('db', 0, 'create', { mounts: true, files: true }), c('app', 1, 'recreate')]));
  const tree = new HostTree(outline);
  const tasks = { sync: fakeTask(), mounts: fakeTask(), l0: fakeTask(), l1: fakeTask(), db: fakeTask(), app: fakeTask() };
  const sync = tree.runStep('sync', tasks.sync);
  tree.on(step('sync', 'syncing conf/plugin of db'));
  assert.equal(tasks.sync.output, 'syncing conf/plugin of db');
  assert.equal(await stateOf(sync), 'pending');
  tree.on(step('mounts', 'preparing mounts of db, app'));
  assert.equal(await stateOf(sync), 'done');
  const mounts = tree.runStep('mounts', tasks.mounts);
  assert.equal(tasks.mounts.output, 'preparing mounts of db, app', 'said before its task ran');
  tree.on(step('level:0', 'level 0: create db'));
  assert.equal(await stateOf(mounts), 'done');
  void tree.runStep('level:0', tasks.l0);
  const db = tree.runContainer('db', tasks.db);
  tree.on(ctr('db', 'applying', 'create'));
  assert.equal(tasks.db.output, 'db: create…');
  tree.on(ctr('db', 'waiting'));
  assert.equal(tasks.db.output, 'db: waiting until it stays up…');
  tree.on(ctr('db', 'done'));
  assert.equal(await stateOf(db), 'done');
  tree.on(step('level:1', 'level 1: recreate app'));
  const l1 = tree.runStep('level:1', tasks.l1);
  const app = tree.runContainer('app', tasks.app);
  tree.on(ctr('app', 'failed', 'exited with code 3'));
  assert.equal(await stateOf(app), 'failed: app: exited with code 3');
  tree.on(detail('rolling back app'));
  assert.equal(tasks.l1.output, 'rolling back app');
  tree.on(ctr('app', 'rolled-back'));
  assert.equal(tasks.l1.output, 'app: rolled-back');
  assert.equal(await stateOf(l1), 'pending');
  tree.finish();
  assert.equal(await stateOf(l1), 'done');
  assert.equal(tasks.sync.skippedWith, undefined);
});

test('a container failing early (its mount) does not skip the steps before its own; finish ends the rest', async () => {
  const outline = applyOutline(plan([c('db', 0, 'create', { mounts: true }), c('app', 1, 'create', { mounts: true }), c('web', 2, 'start')]));
  const tree = new HostTree(outline);
  tree.on(step('mounts', 'preparing mounts of db, app'));
  const app = tree.runContainer('app', fakeTask());
  tree.on(ctr('app', 'failed', 'mount /x: exists and is not a folder'));
  const l0 = fakeTask();
  const level0 = tree.runStep('level:0', l0);
  assert.equal(await stateOf(level0), 'pending', 'level 0 has not run yet');
  tree.on(step('level:0', 'level 0: create db'));
  tree.on(ctr('db', 'done'));
  // Interrupted (or everything after failed): web is skipped, level 1 had only the failed app.
  const webTask = fakeTask();
  const web = tree.runContainer('web', webTask);
  tree.on(ctr('web', 'skipped', 'interrupted'));
  assert.equal(webTask.skippedWith, 'web: skipped (interrupted)');
  const l1 = fakeTask();
  const level1 = tree.runStep('level:1', l1);
  tree.finish();
  assert.equal(await stateOf(app), 'failed: app: mount /x: exists and is not a folder');
  assert.equal(await stateOf(level0), 'done');
  assert.equal(l0.skippedWith, undefined);
  assert.equal(await stateOf(level1), 'done', 'its container settled: not "nothing to do"');
  assert.equal(l1.skippedWith, undefined);
  assert.equal(await stateOf(web), 'done');
});

test('steps the apply never reached are skipped, and so are their containers', async () => {
  const tree = new HostTree(applyOutline(plan([c('web', 0, 'restart', { files: true })])));
  const syncTask = fakeTask();
  const webTask = fakeTask();
  const sync = tree.runStep('sync', syncTask);
  const web = tree.runContainer('web', webTask);
  tree.finish(); // the host failed before anything (rsync could not connect)
  assert.equal(await stateOf(sync), 'done');
  assert.equal(syncTask.skippedWith, 'sync conf/plugin: nothing to do');
  assert.equal(await stateOf(web), 'done');
  assert.equal(webTask.skippedWith, 'not applied');
});
