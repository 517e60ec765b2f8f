import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { TreeEntry } from '../../src/fleet/model.js';
import { desiredHost, treesHash, LABEL_FILES_HASH, LABEL_MANAGED, LABEL_SPEC_HASH } from '../../src/man8s/render.js';
import { planHost, hostHasChanges, diffTrees, withoutEmptyHostFolders, NOT_RESTARTED_REASON, type HostPlan } from '../../src/plan/diff.js';
import type { Observed, ObservedContainer } from '../../src/remote/observed.js';
import type { DeployedRecord } from '../../src/git/deployed.js';
import { relinkWith, RELINK_YGG } from '../support/fleet-builder.js';

const confTree: TreeEntry[] = [
  { path: 'container.yaml', kind: 'file', mode: 0o644, sha256: 'c'.repeat(64), size: 10 },
  { path: 'etc', kind: 'dir', mode: 0o755 },
  { path: 'etc/app.conf', kind: 'file', mode: 0o644, sha256: 'a'.repeat(64), size: 5 },
];

const fleet = relinkWith({
  db: { yaml: { image: 'postgres:18' }, trees: { conf: confTree } },
  web: { yaml: { image: 'nginx:1.29', require: ['db'], autostart: true } },
  tool: { yaml: { image: 'busybox', autostart: false } },
});
const host = fleet.hosts.get('relink')!;
const desired = desiredHost(fleet, 'relink');
const want = (name: string) => desired.containers.find((c) => c.name === name)!;

/** A container as observe reports it, by default exactly what git wants and running. */
function running(name: string, over: Partial<ObservedContainer> = {}): ObservedContainer {
  const w = want(name);
  return {
    name, id: `id-${name}`, state: 'running', running: true, image: w.image, imageId: `sha256:${name}`, created: '2026-12-01T00:00:00Z', managed: true,
    labels: { [LABEL_MANAGED]: 'true', [LABEL_SPEC_HASH]: w.specHash, [LABEL_FILES_HASH]: w.filesHash },
    ...over,
  };
}

/** A host where everything matches git. */
function inSync(over: Partial<Observed> = {}): Observed {
  return {
    hostname: 'relink', time: 0,
    storage: { path: '/var/lib/man8s', exists: true, folders: { data: true, log: true, conf: true, cache: true, plugin: true, socket: true }, extras: [] },
    trees: { conf: { db: confTree, web: [], tool: [] }, plugin: {} },
    strayTreeEntries: [],
    engine: { kind: 'nerdctl', present: true, version: '2.0', compose: 'nerdctl' },
    containers: [running('db'), running('web'), running('tool', { state: 'exited', running: false })],
    unlabeled: [], imageIds: {},
    ygg: { present: true, address: RELINK_YGG },
    lock: { status: 'free' }, composeFiles: {}, warnings: [],
    ...over,
  };
}

const plan = (observed: Observed, deployed: DeployedRecord | null = null, only?: string[]): HostPlan =>
  planHost({ host, desired, observed, deployed, ...(only ? { only } : {}) });
const actions = (p: HostPlan) => Object.fromEntries(p.containers.map((c) => [c.name, c.action]));

describe('planHost', () => {
  it('a host that matches git plans nothing (a stopped autostart:false container stays stopped)', () => {
    const p = plan(inSync());
    assert.deepEqual(actions(p), { db: 'none', web: 'none', tool: 'none' });
    assert.equal(hostHasChanges(p), false);
    assert.deepEqual(p.errors, []);
  });

  it('keeps dependency order: db (level 0) before web (level 1)', () => {
    const p = plan(inSync());
    assert.deepEqual(p.containers.map((c) => [c.name, c.level]), [['db', 0], ['tool', 0], ['web', 1]]);
  });

  it('a missing container is created; one made by hand (no labels) is re-created', () => {
    const p = plan(inSync({ containers: [running('db'), running('tool', { state: 'exited', running: false })], unlabeled: [running('web', { managed: false, labels: {} })] }));
    assert.equal(p.containers.find((c) => c.name === 'web')!.action, 'recreate');
    assert.match(p.containers.find((c) => c.name === 'web')!.reasons[0]!, /made outside man8s/);
    const q = plan(inSync({ containers: [running('web')] }));
    assert.deepEqual(actions(q), { db: 'create', tool: 'create', web: 'none' });
  });

  it('a different spec hash means recreate, naming an image change', () => {
    const p = plan(inSync({ containers: [running('db', { image: 'postgres:17', labels: { [LABEL_SPEC_HASH]: 'old' } }), running('web'), running('tool', { running: false, state: 'exited' })] }));
    const db = p.containers.find((c) => c.name === 'db')!;
    assert.equal(db.action, 'recreate');
    assert.deepEqual(db.reasons, ['image postgres:17 → postgres:18']);
  });

  it('changed conf content means restart (running) and lists the files', () => {
    const edited = confTree.map((e) => (e.path === 'etc/app.conf' ? { ...e, sha256: 'b'.repeat(64) } : e));
    const p = plan(inSync({ trees: { conf: { db: edited, web: [], tool: [] }, plugin: {} } }));
    const db = p.containers.find((c) => c.name === 'db')!;
    assert.equal(db.action, 'restart');
    assert.deepEqual(db.fileChanges, [{ type: 'conf', path: 'etc/app.conf', change: 'changed', kind: 'file' }]);
    assert.deepEqual(db.reasons, ['files changed: conf/etc/app.conf']);
  });

  it('a change of container.yaml alone (metadata) syncs it without a restart', () => {
    const edited = confTree.map((e) => (e.path === 'container.yaml' ? { ...e, sha256: 'd'.repeat(64) } : e));
    const p = plan(inSync({ trees: { conf: { db: edited, web: [], tool: [] }, plugin: {} } }));
    const db = p.containers.find((c) => c.name === 'db')!;
    assert.equal(db.action, 'none');
    assert.equal(db.fileChanges.length, 1);
    assert.equal(hostHasChanges(p), true);
  });

  it('a stopped autostart container is started; files changed while stopped ride along', () => {
    const p = plan(inSync({ containers: [running('db', { state: 'exited', running: false }), running('web'), running('tool', { state: 'exited', running: false })] }));
    assert.equal(p.containers.find((c) => c.name === 'db')!.action, 'start');
    assert.deepEqual(p.containers.find((c) => c.name === 'db')!.reasons, ['exited, autostart']);
  });

  it('drift: host files edited since the last deploy are flagged, a repo change alone is not drift', () => {
    const deployedHash = want('db').filesHash;
    const deployed: DeployedRecord = { commit: 'abc', deployed_at: '', deployed_by: '', containers: { db: { spec_hash: want('db').specHash, files_hash: deployedHash, image: 'postgres:18', result: 'created' } } };
    const editedOnHost = confTree.map((e) => (e.path === 'etc/app.conf' ? { ...e, sha256: 'e'.repeat(64) } : e));
    const p = plan(inSync({ trees: { conf: { db: editedOnHost, web: [], tool: [] }, plugin: {} } }), deployed);
    assert.equal(p.containers.find((c) => c.name === 'db')!.drift, true);
    const stale: DeployedRecord = { ...deployed, containers: { db: { ...deployed.containers.db!, files_hash: 'older' } } };
    const q = plan(inSync({ trees: { conf: { db: editedOnHost, web: [], tool: [] }, plugin: {} } }), { ...stale, containers: { db: { ...stale.containers.db!, files_hash: planHostFilesHash(editedOnHost) } } });
    assert.equal(q.containers.find((c) => c.name === 'db')!.drift, false);
  });

  it('orphans: labelled containers and conf/plugin folders git no longer has; pruned only on request', () => {
    const ghost = running('db', { name: 'ghost', id: 'id-ghost' });
    const p = plan(inSync({ containers: [...inSync().containers, ghost], trees: { conf: { db: confTree, web: [], tool: [], ghost: [] }, plugin: { old: [] } } }));
    assert.deepEqual(p.orphanContainers.map((c) => c.name), ['ghost']);
    assert.deepEqual(p.orphanFolders, [{ type: 'conf', name: 'ghost' }, { type: 'plugin', name: 'old' }]);
    assert.equal(hostHasChanges(p), false);
    assert.equal(hostHasChanges(p, { prune: true }), true);
  });

  it('folders only on the host that hold no file (mount folders git cannot store) are no change and no drift', () => {
    // conf mount /etc/bench → conf/db/etc/bench (and deeper empty folders), made by mount preparation.
    const made: TreeEntry[] = [...confTree, { path: 'etc/bench', kind: 'dir', mode: 0o750 }, { path: 'etc/bench/sub', kind: 'dir', mode: 0o755 }];
    const deployed: DeployedRecord = { commit: 'abc', deployed_at: '', deployed_by: '', containers: { db: { spec_hash: want('db').specHash, files_hash: want('db').filesHash, image: 'postgres:18', result: 'created' } } };
    const p = plan(inSync({ trees: { conf: { db: made, web: [], tool: [] }, plugin: {} } }), deployed);
    const db = p.containers.find((c) => c.name === 'db')!;
    assert.equal(db.action, 'none');
    assert.deepEqual(db.fileChanges, []);
    assert.equal(db.drift, false);
    assert.equal(db.hostFilesHash, want('db').filesHash);
    assert.equal(hostHasChanges(p), false);
    // A host-only folder that holds a file is a change: the file (and its folders) go.
    const withFile: TreeEntry[] = [...made, { path: 'etc/bench/sub/x', kind: 'file', mode: 0o644, sha256: 'f'.repeat(64), size: 1 }];
    const q = plan(inSync({ trees: { conf: { db: withFile, web: [], tool: [] }, plugin: {} } })).containers.find((c) => c.name === 'db')!;
    assert.equal(q.action, 'restart');
    assert.deepEqual(q.fileChanges.map((c) => `${c.change} ${c.path}`), ['removed etc/bench', 'removed etc/bench/sub', 'removed etc/bench/sub/x']);
  });

  it('withoutEmptyHostFolders keeps folders git has and folders holding files or links', () => {
    const have: TreeEntry[] = [
      { path: 'a', kind: 'dir', mode: 0o755 },
      { path: 'a/empty', kind: 'dir', mode: 0o755 },
      { path: 'b', kind: 'dir', mode: 0o755 },
      { path: 'b/c', kind: 'dir', mode: 0o755 },
      { path: 'b/c/link', kind: 'symlink', mode: 0o777, target: 'x' },
      { path: 'kept', kind: 'dir', mode: 0o755 },
    ];
    const gitHas: TreeEntry[] = [{ path: 'kept', kind: 'dir', mode: 0o755 }];
    assert.deepEqual(withoutEmptyHostFolders({ conf: have, plugin: have }, { conf: gitHas, plugin: [] }).conf.map((e) => e.path), ['b', 'b/c', 'b/c/link', 'kept']);
    assert.deepEqual(withoutEmptyHostFolders({ conf: have, plugin: have }, { conf: gitHas, plugin: [] }).plugin.map((e) => e.path), ['b', 'b/c', 'b/c/link']);
  });

  it('a container running older files than the host has (a deploy stopped after the sync) is restarted, saying why', () => {
    const started = (hash: string) => inSync({ startedFiles: { db: hash } });
    const db = plan(started('0'.repeat(64))).containers.find((c) => c.name === 'db')!;
    assert.equal(db.action, 'restart');
    assert.deepEqual(db.reasons, [NOT_RESTARTED_REASON]);
    assert.deepEqual(db.fileChanges, []);
    assert.equal(plan(started(want('db').filesHash)).containers.find((c) => c.name === 'db')!.action, 'none');
    // Nothing recorded (started before man8s recorded it): no opinion.
    assert.equal(plan(inSync()).containers.find((c) => c.name === 'db')!.action, 'none');
    // Stopped: a start reads the files anyway; autostart off stays stopped.
    const stopped = inSync({ startedFiles: { db: '0'.repeat(64), tool: '0'.repeat(64) }, containers: [running('db', { state: 'exited', running: false }), running('web'), running('tool', { state: 'exited', running: false })] });
    assert.deepEqual(actions(plan(stopped)), { db: 'start', tool: 'none', web: 'none' });
  });

  it('--only plans just the named containers and reports no orphans', () => {
    const p = plan(inSync({ containers: [] }), null, ['web']);
    assert.deepEqual(actions(p), { web: 'create' });
    assert.deepEqual(p.orphanContainers, []);
  });

  it('a host whose yggdrasil address differs from host.yaml is an error naming both', () => {
    const p = plan(inSync({ ygg: { present: true, address: '200:1111:2222:3333:4444:5555:6666:7777' } }));
    assert.equal(p.errors.length, 1);
    assert.match(p.errors[0]!, /has address 200:1111:2222:3333:4444:5555:6666:7777 but hosts\/relink\/host\.yaml says yggaddr 200:7547:78fb:902a:9a09:9bff:f966:89a7/);
  });

  it('an engine that does not answer is an error with the fix', () => {
    const p = plan(inSync({ engine: { kind: 'nerdctl', present: false, error: 'nerdctl: not found' } }));
    assert.match(p.errors.join('\n'), /container engine nerdctl does not answer on the host \(nerdctl: not found\).*man8s doctor relink/);
  });
});

describe('planHost after a pull', () => {
  const OLD = `sha256:${'1'.repeat(64)}`;
  const NEW = `sha256:${'2'.repeat(64)}`;
  /** web runs OLD; after the pull its tag nginx:1.29 points at `tagNow`. */
  const pulledHost = (tagNow: string | undefined, over: Partial<Observed> = {}): Observed =>
    inSync({
      containers: [running('db'), running('web', { imageId: OLD }), running('tool', { state: 'exited', running: false })],
      imageIds: tagNow ? { 'nginx:1.29': tagNow } : {},
      ...over,
    });
  // A pull that did not move the tag (it was moved by hand before): the docker-style id comparison decides.
  const planPulled = (observed: Observed, pulled: boolean) =>
    planHost({ host, desired, observed, deployed: null, only: ['web'], ...(pulled ? { pulled: { 'nginx:1.29': { before: NEW, after: NEW } } } : {}) });

  it('a tag this pull moved re-creates the container even where the engine reports no ids (nerdctl)', () => {
    const nerdctl = inSync({ containers: [running('db'), running('web', { imageId: 'nginx:1.29' })], imageIds: {} });
    const moved = planHost({ host, desired, observed: nerdctl, deployed: null, only: ['web'], pulled: { 'nginx:1.29': { before: OLD, after: NEW } } });
    assert.equal(moved.containers[0]!.action, 'recreate');
    assert.deepEqual(moved.containers[0]!.reasons, ['pulled nginx:1.29: new image 222222222222 (was 111111111111)']);
    const same = planHost({ host, desired, observed: nerdctl, deployed: null, only: ['web'], pulled: { 'nginx:1.29': { before: OLD, after: OLD } } });
    assert.equal(same.containers[0]!.action, 'none');
  });

  it('a tag that now points at another image id re-creates the container, saying why', () => {
    const web = planPulled(pulledHost(NEW), true).containers.find((c) => c.name === 'web')!;
    assert.equal(web.action, 'recreate');
    assert.deepEqual(web.reasons, ['pulled nginx:1.29: new image 222222222222 (runs 111111111111)']);
  });

  it('the same image id after the pull changes nothing', () => {
    const p = planPulled(pulledHost(OLD), true);
    assert.deepEqual(actions(p), { web: 'none' });
    assert.equal(hostHasChanges(p), false);
  });

  it('without a pull, a tag that moved (someone pulled by hand) is not a reason to re-create', () => {
    const p = planPulled(pulledHost(NEW), false);
    assert.deepEqual(actions(p), { web: 'none' });
    assert.equal(hostHasChanges(p), false);
  });

  it('an image id the host could not resolve is not a change', () => {
    assert.deepEqual(actions(planPulled(pulledHost(undefined), true)), { web: 'none' });
  });

  it('a spec change still names the spec change; file changes ride along with a pulled image', () => {
    const spec = planPulled(pulledHost(NEW, { containers: [running('web', { imageId: OLD, image: 'nginx:1.28', labels: { [LABEL_MANAGED]: 'true', [LABEL_SPEC_HASH]: 'old' } })] }), true);
    assert.deepEqual(spec.containers[0]!.reasons, ['image nginx:1.28 → nginx:1.29']);
    const www: TreeEntry[] = [{ path: 'index.html', kind: 'file', mode: 0o644, sha256: 'f'.repeat(64), size: 3 }];
    const files = planPulled(pulledHost(NEW, { trees: { conf: { db: confTree, web: www, tool: [] }, plugin: {} } }), true).containers[0]!;
    assert.equal(files.action, 'recreate');
    assert.deepEqual(files.reasons, ['pulled nginx:1.29: new image 222222222222 (runs 111111111111)', 'files changed: conf/index.html']);
  });
});

describe('diffTrees', () => {
  it('reports added, changed (content, mode, link target, kind) and removed entries', () => {
    const have: TreeEntry[] = [
      { path: 'a', kind: 'file', mode: 0o644, sha256: '1' },
      { path: 'b', kind: 'file', mode: 0o644, sha256: '1' },
      { path: 'l', kind: 'symlink', mode: 0o777, target: 'a' },
      { path: 'gone', kind: 'file', mode: 0o644, sha256: '1' },
      { path: 'd', kind: 'dir', mode: 0o755 },
    ];
    const want: TreeEntry[] = [
      { path: 'a', kind: 'file', mode: 0o755, sha256: '1' },
      { path: 'b', kind: 'file', mode: 0o644, sha256: '2' },
      { path: 'l', kind: 'symlink', mode: 0o777, target: 'b' },
      { path: 'new', kind: 'file', mode: 0o644, sha256: '1' },
      { path: 'd', kind: 'file', mode: 0o644, sha256: '1' },
    ];
    assert.deepEqual(
      diffTrees({ conf: want, plugin: [] }, { conf: have, plugin: [] }).map((c) => `${c.change} ${c.path}`),
      ['changed a', 'changed b', 'changed d', 'removed gone', 'changed l', 'added new'],
    );
  });
});

function planHostFilesHash(conf: TreeEntry[]): string {
  return treesHash({ conf, plugin: [] }, 'container.yaml');
}
