import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { TreeEntry } from '../../src/fleet/model.js';
import { desiredHost, LABEL_FILES_HASH, LABEL_MANAGED, LABEL_SPEC_HASH } from '../../src/man8s/render.js';
import { planHost } from '../../src/plan/diff.js';
import { formatHostPlan, formatDiff, actionSummary } from '../../src/plan/format.js';
import { buildRecord, recordChanged } from '../../src/apply/record.js';
import type { HostState } from '../../src/plan/run.js';
import type { Observed, ObservedContainer } from '../../src/remote/observed.js';
import { relinkWith, RELINK_YGG } from '../support/fleet-builder.js';

const conf: TreeEntry[] = [{ path: 'app.conf', kind: 'file', mode: 0o644, sha256: 'a'.repeat(64) }];
const fleet = relinkWith({
  db: { yaml: { image: 'postgres:18' } },
  web: { yaml: { image: 'nginx:1.29', require: ['db'] }, trees: { conf } },
});
const host = fleet.hosts.get('relink')!;
const desired = desiredHost(fleet, 'relink');
const want = (n: string) => desired.containers.find((c) => c.name === n)!;

function running(name: string, over: Partial<ObservedContainer> = {}): ObservedContainer {
  const w = want(name);
  return {
    name, id: `id-${name}`, state: 'running', running: true, image: w.image, imageId: `sha256:${name}`, created: '', managed: true,
    labels: { [LABEL_MANAGED]: 'true', [LABEL_SPEC_HASH]: w.specHash, [LABEL_FILES_HASH]: w.filesHash }, ...over,
  };
}

function observed(containers: ObservedContainer[], webConf: TreeEntry[] = conf): Observed {
  return {
    hostname: 'relink', time: 0,
    storage: { path: '/var/lib/man8s', exists: true, folders: { data: true, log: true, conf: true, cache: true, plugin: true, socket: true }, extras: [] },
    trees: { conf: { db: [], web: webConf }, plugin: {} }, strayTreeEntries: [],
    engine: { kind: 'nerdctl', present: true }, containers, unlabeled: [], imageIds: {},
    ygg: { present: true, address: RELINK_YGG }, lock: { status: 'free' }, composeFiles: {}, warnings: [],
  };
}

function state(obs: Observed, deployed: HostState['deployed'] = null): HostState {
  return { host, desired, observed: obs, deployed, plan: planHost({ host, desired, observed: obs, deployed }) };
}

describe('plan text', () => {
  it('lists only what changes, with marks, reasons and a summary', () => {
    const s = state(observed([running('db', { image: 'postgres:17', labels: {} })], []));
    const text = formatHostPlan({ plan: s.plan, destination: 'root@relink:22', diffs: [] });
    assert.equal(
      text,
      [
        'relink (root@relink:22): 1 to create, 1 to recreate',
        '  -/+ recreate db   image postgres:17 → postgres:18',
        '  +   create   web  not on the host; files changed: conf/app.conf',
      ].join('\n'),
    );
    assert.equal(actionSummary(state(observed([running('db'), running('web')])).plan), '2 unchanged');
  });

  it('unified diffs name host and git sides; binary and too-big files are said, not shown', () => {
    const d = formatDiff({ label: 'relink:conf/web/app.conf', before: Buffer.from('a = 1\nb = 2\n'), after: Buffer.from('a = 1\nb = 3\n') });
    assert.equal(d, '--- relink:conf/web/app.conf (host)\n+++ relink:conf/web/app.conf (git)\n@@ -1,2 +1,2 @@\n a = 1\n-b = 2\n+b = 3\n');
    assert.match(formatDiff({ label: 'x', before: Buffer.from([0, 1]), after: Buffer.from('t') }), /binary file differs/);
    assert.match(formatDiff({ label: 'x', before: null, after: Buffer.from('t'), note: '900000 bytes on the host: too big to show' }), /too big to show/);
    assert.equal(formatDiff({ label: 'x', before: Buffer.from('same'), after: Buffer.from('same') }), '');
  });
});

describe('deployed.yaml record', () => {
  const now = new Date('2026-12-03T20:00:00Z');

  it('records desired hashes for what deployed, and what still runs for a failed container', () => {
    const s = state(observed([running('db', { labels: { [LABEL_SPEC_HASH]: 'old-spec', [LABEL_FILES_HASH]: 'old-files' }, image: 'postgres:17' })], []));
    const record = buildRecord(s, { host: 'relink', pruned: [], filesSynced: 1, outcomes: [
      { name: 'db', action: 'recreate', result: 'failed', error: 'exited with code 1' },
      { name: 'web', action: 'create', result: 'created', imageId: 'sha256:new' },
    ] }, 'c0ffee', now, 'ops@laptop');
    assert.deepEqual(record, {
      commit: 'c0ffee', deployed_at: '2026-12-03T20:00:00.000Z', deployed_by: 'ops@laptop',
      containers: {
        db: { spec_hash: 'old-spec', files_hash: 'old-files', image: 'postgres:17', result: 'failed', error: 'exited with code 1' },
        web: { spec_hash: want('web').specHash, files_hash: want('web').filesHash, image: 'nginx:1.29', image_id: 'sha256:new', result: 'created' },
      },
    });
  });

  it('a no-op on a new commit records nothing new; a changed hash or a failure does', () => {
    const s = state(observed([running('db'), running('web')]));
    const first = buildRecord(s, null, 'a', now, 'x');
    assert.equal(recordChanged(null, first), true);
    assert.equal(recordChanged(first, buildRecord(s, null, 'b', new Date(), 'y')), false);
    assert.equal(recordChanged(first, { ...first, containers: { ...first.containers, db: { ...first.containers.db!, spec_hash: 'z' } } }), true);
    assert.equal(recordChanged(first, { ...first, containers: { ...first.containers, db: { ...first.containers.db!, result: 'failed' } } }), true);
    // man8s pull: same spec, re-created on the new image a moved tag points at.
    assert.equal(recordChanged(first, { ...first, containers: { ...first.containers, db: { ...first.containers.db!, image_id: 'sha256:pulled', result: 'recreated' } } }), true);
  });
});
