import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { affectedContainers, copyUnits, movedFleet, movePlan, moveProblems, requireComponent } from '../../src/migrate/plan.js';
import { abortSteps, advance, pickRecord, stepsFrom, type MigrationRecord } from '../../src/migrate/state.js';
import { compareManifests, copyBatches, directCopyArgv, parseManifest, parseProbe, type Manifest } from '../../src/migrate/copy.js';
import { removeLeftoversCommand, renameLeftoversCommand } from '../../src/migrate/leftovers.js';
import { buildFleet } from '../support/fleet-builder.js';

const A = '200:7547:78fb:902a:9a09:9bff:f966:89a7';
const B = '201:3a7a:6977:b94f:a347:59a3:9251:333b';
const C = '202:1111:2222:3333:4444:5555:6666:7777';

function fleet() {
  return buildFleet({
    relink: {
      yggaddr: A,
      containers: {
        pg: { image: 'pg', mount: { data: { '/var/lib/pg': {} }, socket: { '/run/pg': { owner: [70, 70] } } } },
        synapse: {
          image: 'syn',
          require: ['pg'],
          mount: { socket: { '/pg': { source: 'pg:/run/pg' } }, data: { '/media': { source: '/srv/media' }, '/media/thumbs': { source: '/srv/media/thumbs' } } },
        },
        element: { image: 'el', require: ['synapse'] },
        nginx: { image: 'nginx', local_access: ['synapse'], mount: { data: { '/srv': { source: '/srv/media' } } } },
        alone: { image: 'a', mount: { conf: { '/etc/a.ini': { file: true, source: '/etc/man8s-a.ini' } } } },
      },
    },
    lothric: { yggaddr: B, settings: { storage_path: '/data/m8' }, containers: {} },
    tarrey: { yggaddr: C, containers: { client: { image: 'c', dns: 'synapse', local_access: ['alone'] }, other: { image: 'o' } } },
  });
}

describe('migration plan', () => {
  it('finds every require neighbour, both directions, transitively', () => {
    const f = fleet();
    assert.deepEqual(requireComponent(f.hosts.get('relink')!, 'synapse'), [
      { name: 'element', why: 'requires synapse' },
      { name: 'pg', why: 'required by synapse' },
    ]);
    assert.deepEqual(requireComponent(f.hosts.get('relink')!, 'alone'), []);
  });

  it('refuses to leave neighbours behind, or moves the group in dependency order', () => {
    const f = fleet();
    assert.deepEqual(movePlan(f, 'synapse', 'relink', 'lothric', false).leftBehind.map((n) => n.name), ['element', 'pg']);
    const p = movePlan(f, 'synapse', 'relink', 'lothric', true);
    assert.deepEqual(p.group, ['pg', 'synapse', 'element']);
    assert.deepEqual(p.leftBehind, []);
  });

  it('copies the six type folders of each member to the target storage, plus custom sources outside them', () => {
    const f = fleet();
    const units = copyUnits(f, 'relink', 'lothric', ['synapse']);
    const storage = units.filter((u) => u.kind === 'storage');
    assert.equal(storage.length, 6);
    assert.deepEqual(storage[0], { kind: 'storage', type: 'data', name: 'synapse', fromPath: '/var/lib/man8s/data/synapse', toPath: '/data/m8/data/synapse' });
    // /srv/media/thumbs is inside /srv/media: one unit; nginx, staying, mounts it too.
    const custom = units.filter((u) => u.kind === 'custom');
    assert.deepEqual(custom, [
      { kind: 'custom', container: 'synapse', target: '/media', file: false, fromPath: '/srv/media', toPath: '/srv/media', sharedWith: ['nginx'] },
    ]);
    // A file mount outside storage is a custom unit of its own.
    assert.deepEqual(
      copyUnits(f, 'relink', 'lothric', ['alone']).filter((u) => u.kind === 'custom').map((u) => [u.fromPath, u.kind === 'custom' && u.file]),
      [['/etc/man8s-a.ini', true]],
    );
  });

  it('knows which containers elsewhere are redeployed because the address changes', () => {
    const f = fleet();
    const group = ['pg', 'synapse', 'element'];
    const after = movedFleet(f, group, 'relink', 'lothric');
    assert.deepEqual([...after.hosts.get('lothric')!.containers.keys()], ['element', 'pg', 'synapse']);
    assert.equal(after.hosts.get('relink')!.containers.has('synapse'), false);
    assert.equal(after.hosts.get('lothric')!.containers.get('synapse')!.file, 'hosts/lothric/conf/synapse/container.yaml');
    assert.deepEqual(affectedContainers(f, after, group, 'lothric'), [
      { host: 'relink', name: 'nginx' },
      { host: 'tarrey', name: 'client' },
    ]);
    // The original fleet is untouched.
    assert.ok(f.hosts.get('relink')!.containers.has('synapse'));
    assert.deepEqual(moveProblems(f, after), []);
  });

  it('reports what the move would break: an explicit host/name reference', () => {
    const f = buildFleet({
      relink: { yggaddr: A, containers: { app: { image: 'a' } } },
      lothric: { yggaddr: B, containers: {} },
      tarrey: { yggaddr: C, containers: { client: { image: 'c', dns: 'relink/app' } } },
    });
    const problems = moveProblems(f, movedFleet(f, ['app'], 'relink', 'lothric'));
    assert.equal(problems.length, 1);
    assert.match(problems[0]!, /hosts\/tarrey\/conf\/client\/container.yaml:\d+:\d+: dns: no container "app" on host relink/);
  });
});

function record(phase: MigrationRecord['phase']): MigrationRecord {
  return {
    version: 1, id: 'x', name: 'app', group: ['app'], from: 'relink', to: 'lothric', mode: 'direct', checksum: false, purgeSource: false,
    phase, seq: 1, startedAt: '2026-01-01T00:00:00.000Z', updatedAt: '2026-01-01T00:00:00.000Z', by: 'me', baseCommit: 'abc',
    units: [], createdOnTarget: [], wasRunning: ['app'], affected: [], leftoverStamp: '20260101T000000Z', leftovers: [],
  };
}

describe('migration record', () => {
  it('resumes from the step its phase names, repeating the stop', () => {
    assert.deepEqual(stepsFrom('copying'), ['copy1', 'stop', 'copy2', 'verify', 'switch', 'deploy-target', 'redeploy-affected', 'remove-source', 'commit']);
    assert.deepEqual(stepsFrom('stopped'), ['stop', 'copy2', 'verify', 'switch', 'deploy-target', 'redeploy-affected', 'remove-source', 'commit']);
    assert.deepEqual(stepsFrom('verified'), ['switch', 'deploy-target', 'redeploy-affected', 'remove-source', 'commit']);
    assert.deepEqual(stepsFrom('target-up'), ['redeploy-affected', 'remove-source', 'commit']);
    assert.deepEqual(stepsFrom('source-removed'), ['commit']);
  });

  it('aborts by undoing exactly what its phase may have done; the target copy is deleted only before the switch', () => {
    assert.deepEqual(abortSteps('copying'), ['start-source', 'remove-target-data']);
    assert.deepEqual(abortSteps('stopped'), ['start-source', 'remove-target-data']);
    assert.deepEqual(abortSteps('verified'), ['start-source', 'remove-target-data']);
    // From the switch on the target may have run and written: its copy is set aside, never deleted.
    assert.deepEqual(abortSteps('switched'), ['revert-git', 'remove-target-containers', 'start-source', 'set-aside-target-data']);
    assert.deepEqual(abortSteps('target-up'), ['revert-git', 'remove-target-containers', 'start-source', 'redeploy-affected', 'set-aside-target-data']);
    const refused = abortSteps('source-removed');
    assert.ok('refused' in refused && /--resume/.test(refused.refused));
  });

  it('never goes backwards and counts every write', () => {
    const r = advance(record('stopped'), 'verified', {}, new Date('2026-01-02T00:00:00Z'));
    assert.equal(r.seq, 2);
    assert.equal(r.updatedAt, '2026-01-02T00:00:00.000Z');
    assert.equal(advance(r, 'verified').seq, 3);
    assert.throws(() => advance(r, 'copying'), /goes backwards/);
  });

  it('trusts the higher write of two differing copies', () => {
    const a = record('stopped');
    const b = advance(a, 'verified');
    assert.equal(pickRecord(a, b), b);
    assert.equal(pickRecord(b, a), b);
    assert.equal(pickRecord(undefined, a), a);
  });
});

describe('copy and verify', () => {
  const units = [
    { kind: 'storage' as const, type: 'data' as const, name: 'app', fromPath: '/var/lib/man8s/data/app', toPath: '/data/m8/data/app' },
    { kind: 'storage' as const, type: 'log' as const, name: 'app', fromPath: '/var/lib/man8s/log/app', toPath: '/data/m8/log/app' },
    { kind: 'custom' as const, container: 'app', target: '/x', file: false, fromPath: '/srv/x', toPath: '/srv/x', sharedWith: [] },
  ];

  it('batches storage folders (storage → storage) and custom sources (/ → /), skipping missing ones', () => {
    const batches = copyBatches(units, '/var/lib/man8s', '/data/m8', (p) => p !== '/var/lib/man8s/log/app');
    assert.deepEqual(batches, [
      { fromRoot: '/var/lib/man8s', toRoot: '/data/m8', rels: ['data/app'] },
      { fromRoot: '/', toRoot: '/', rels: ['srv/x'] },
    ]);
    const argv = directCopyArgv(batches[0]!, { alias: '10.0.0.2', port: 22, user: 'root', userKnownHostsFiles: ['/k'] });
    assert.deepEqual(argv.slice(0, 8), ['rsync', '--archive', '--acls', '--xattrs', '--hard-links', '--numeric-ids', '--relative', '--no-implied-dirs']);
    assert.deepEqual(argv.slice(-2), ['/var/lib/man8s/./data/app', '10.0.0.2:/data/m8/']);
    assert.match(argv[argv.indexOf('-e') + 1]!, /^ssh -p 22 -l root -o UserKnownHostsFile=\/k -o StrictHostKeyChecking=yes -o BatchMode=yes/);
  });

  it('parses probe and manifest output', () => {
    assert.deepEqual(parseProbe('/a\td\t4096\n/b\t-\t0\n').get('/b'), { path: '/b', kind: 'missing', bytes: 0 });
    assert.deepEqual(parseManifest('/a\td\t3\t12\tabc\n').get('/a'), { path: '/a', exists: true, entries: 3, bytes: 12, digest: 'abc' });
  });

  it('compares units: equal, missing, other counts, sizes or digests', () => {
    const m = (path: string, entries: number, bytes: number, digest: string, exists = true): [string, Manifest] => [path, { path, exists, entries, bytes, digest }];
    const src = new Map([m('/var/lib/man8s/data/app', 5, 100, 'd1'), m('/var/lib/man8s/log/app', 0, 0, '', false), m('/srv/x', 2, 7, 'd3')]);
    const same = new Map([m('/data/m8/data/app', 5, 100, 'd1'), m('/data/m8/log/app', 0, 0, '', false), m('/srv/x', 2, 7, 'd3')]);
    assert.deepEqual(compareManifests(units, src, same), { ok: true, entries: 7, bytes: 107, differences: [] });
    const other = new Map([m('/data/m8/data/app', 5, 100, 'zz'), m('/data/m8/log/app', 1, 0, 'q'), m('/srv/x', 3, 7, 'd3')]);
    assert.deepEqual(compareManifests(units, src, other).differences, [
      '/data/m8/data/app: same count and size but different ownership, modes, links or content',
      '/data/m8/log/app: exists on the target but not on the source',
      '/srv/x: 2 entries on the source, 3 on the target',
    ]);
  });
});

describe('leftovers', () => {
  it('renames in place with one stamp and lists them in a marker', () => {
    const cmd = renameLeftoversCommand('/var/lib/man8s-state', { name: 'app', to: 'lothric', at: 't', kind: 'migrated' }, '20260101T000000Z', ['/var/lib/man8s/data/app']);
    assert.equal(cmd.argv[4], '/var/lib/man8s-state/migrated/app-20260101T000000Z.json');
    assert.equal(cmd.argv[5], '.man8s-migrated-20260101T000000Z');
    assert.deepEqual(JSON.parse(cmd.argv[6]!).paths, ['/var/lib/man8s/data/app.man8s-migrated-20260101T000000Z']);
  });

  it('gc can only remove suffixed paths', () => {
    const cmd = removeLeftoversCommand('/m.json', ['/var/lib/man8s/data/app']);
    assert.match(cmd.argv[2]!, /refusing to remove/);
  });
});
