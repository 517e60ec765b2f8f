import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  composeVolumes,
  defaultMountSource,
  MountResolutionError,
  parseMountSource,
  resolveMounts,
} from '../../src/man8s/mounts.js';
import { relinkWith } from '../support/fleet-builder.js';

describe('default mount sources', () => {
  it('are <storage_path>/<type>/<name>/<path without leading />', () => {
    assert.equal(defaultMountSource('/var/lib/man8s', 'conf', 'nerchat-pgsql', '/etc/postgresql'), '/var/lib/man8s/conf/nerchat-pgsql/etc/postgresql');
    assert.equal(defaultMountSource('/srv/m8', 'data', 'a', '/var/lib/secrets/'), '/srv/m8/data/a/var/lib/secrets/');
  });
});

describe('parseMountSource', () => {
  it('tells paths, references and nonsense apart', () => {
    assert.deepEqual(parseMountSource(undefined), { kind: 'default' });
    assert.deepEqual(parseMountSource('/mnt/pg'), { kind: 'path', path: '/mnt/pg' });
    assert.deepEqual(parseMountSource('nerchat-pgsql:/var/run/postgresql'), {
      kind: 'reference',
      container: 'nerchat-pgsql',
      target: '/var/run/postgresql',
    });
    assert.deepEqual(parseMountSource('relative'), { kind: 'invalid' });
  });
});

describe('resolveMounts', () => {
  it('applies defaults: owner [0,0], perm 755 for folders and 644 for files, file false', () => {
    const fleet = relinkWith({
      app: {
        image: 'a',
        mount: {
          conf: { '/etc/app': {}, '/etc/app.ini': { file: true } },
          data: { '/data': { owner: [999, 998], perm: '700', source: '/mnt/data' } },
        },
      },
    });
    assert.deepEqual(resolveMounts(fleet.hosts.get('relink')!, 'app'), [
      { type: 'data', target: '/data', source: '/mnt/data', owner: [999, 998], perm: '700', file: false },
      { type: 'conf', target: '/etc/app', source: '/var/lib/man8s/conf/app/etc/app', owner: [0, 0], perm: '755', file: false },
      { type: 'conf', target: '/etc/app.ini', source: '/var/lib/man8s/conf/app/etc/app.ini', owner: [0, 0], perm: '644', file: true },
    ]);
  });

  it('orders volumes data, log, conf, cache, plugin, socket, file order within a type', () => {
    const fleet = relinkWith({
      app: {
        image: 'a',
        mount: {
          socket: { '/s': {} },
          plugin: { '/p': {} },
          cache: { '/c': {} },
          conf: { '/z-conf': {}, '/a-conf': {} },
          log: { '/l': {} },
          data: { '/d2': {}, '/d1': {} },
        },
      },
    });
    const volumes = composeVolumes(resolveMounts(fleet.hosts.get('relink')!, 'app'));
    assert.deepEqual(volumes, [
      '/var/lib/man8s/data/app/d2:/d2',
      '/var/lib/man8s/data/app/d1:/d1',
      '/var/lib/man8s/log/app/l:/l',
      '/var/lib/man8s/conf/app/z-conf:/z-conf',
      '/var/lib/man8s/conf/app/a-conf:/a-conf',
      '/var/lib/man8s/cache/app/c:/c',
      '/var/lib/man8s/plugin/app/p:/p',
      '/var/lib/man8s/socket/app/s:/s',
    ]);
  });

  it('resolves a reference across the other container’s types, inheriting owner, perm and file', () => {
    const fleet = relinkWith({
      'nerchat-pgsql': { image: 'pg', mount: { socket: { '/var/run/postgresql': { owner: [999, 999], perm: '775' } } } },
      'nerchat-synapse': {
        image: 's',
        require: ['nerchat-pgsql'],
        mount: { data: { '/db_socket': { source: 'nerchat-pgsql:/var/run/postgresql', owner: [1, 1], perm: '700' } } },
      },
    });
    assert.deepEqual(resolveMounts(fleet.hosts.get('relink')!, 'nerchat-synapse'), [
      {
        type: 'data',
        target: '/db_socket',
        source: '/var/lib/man8s/socket/nerchat-pgsql/var/run/postgresql',
        owner: [999, 999],
        perm: '775',
        file: false,
        sharedFrom: { container: 'nerchat-pgsql', target: '/var/run/postgresql' },
      },
    ]);
  });

  it('resolves a reference to a reference (mbctl 0.6.1 rendered None:/shared-data here)', () => {
    const fleet = relinkWith({
      c: { image: 'c', require: ['b'], mount: { data: { '/shared-data': { source: 'b:/from-a' } } } },
      b: { image: 'b', require: ['a'], mount: { cache: { '/from-a': { source: 'a:/shared' } } } },
      a: { image: 'a', mount: { conf: { '/shared/': { owner: [5, 6], file: true, source: '/srv/shared.txt' } } } },
    });
    const [mount] = resolveMounts(fleet.hosts.get('relink')!, 'c');
    assert.deepEqual(mount, {
      type: 'data',
      target: '/shared-data',
      source: '/srv/shared.txt',
      owner: [5, 6],
      perm: '644',
      file: true,
      sharedFrom: { container: 'b', target: '/from-a' },
    });
  });

  it('throws MountResolutionError on what validation would have refused', () => {
    const fleet = relinkWith({
      a: { image: 'a', require: ['b'], mount: { data: { '/x': { source: 'b:/y' } } } },
      b: { image: 'b', require: ['a'], mount: { data: { '/y': { source: 'a:/x' } } } },
      c: { image: 'c', mount: { data: { '/x': { source: 'zzz:/y' } } } },
    });
    const relink = fleet.hosts.get('relink')!;
    assert.throws(() => resolveMounts(relink, 'a'), (e: unknown) => e instanceof MountResolutionError && /loop through a → b → a/.test(e.message));
    assert.throws(() => resolveMounts(relink, 'c'), /no container "zzz"/);
  });
});
