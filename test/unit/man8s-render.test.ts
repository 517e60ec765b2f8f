import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parse, parseAllDocuments } from 'yaml';
import { UserError } from '../../src/errors.js';
import type { TreeEntry } from '../../src/fleet/model.js';
import { checkFleet } from '../../src/man8s/check.js';
import {
  composeYaml,
  composeYamlStream,
  desiredHost,
  LABEL_FILES_HASH,
  LABEL_MANAGED,
  LABEL_SPEC_HASH,
  renderCompose,
  renderContainer,
  renderService,
} from '../../src/man8s/render.js';
import { containerYggaddr } from '../../src/man8s/ygg.js';
import { relinkWith, RELINK_YGG } from '../support/fleet-builder.js';
import { goldenFleet, LOTHRIC_YGG } from '../support/golden-fleet.js';

const goldenDir = new URL('../golden/', import.meta.url);

/** Compares with test/golden/<name>; UPDATE_GOLDEN=1 rewrites it (review the diff before committing). */
function assertGolden(name: string, actual: string): void {
  const url = new URL(name, goldenDir);
  if (process.env.UPDATE_GOLDEN === '1') writeFileSync(url, actual);
  assert.equal(actual, readFileSync(url, 'utf8'), `golden ${name} differs (UPDATE_GOLDEN=1 to accept)`);
}

function withoutLabels(service: Record<string, unknown>): Record<string, unknown> {
  const { labels: _labels, ...rest } = service;
  return rest;
}

describe('render: the golden fleet', () => {
  it('validates clean (so the renders are of a valid fleet)', () => {
    assert.deepEqual(checkFleet(goldenFleet()), []);
  });

  it('reproduces the relink-nginx example of MAN8S-SPEC §5', () => {
    const service = renderService(goldenFleet(), 'relink', 'relink-nginx');
    assert.deepEqual(withoutLabels(service), {
      image: 'registry.example/library/nginx',
      container_name: 'relink-nginx',
      hostname: 'relink-nginx',
      networks: ['man8yggbr'],
      ports: ['80:80', '[::]:80:80', '53:53/udp', '[::]:53:53/udp'],
      volumes: ['/etc/nginx:/etc/nginx', '/var/log/nginx:/var/log/nginx'],
      environment: { TZ: 'UTC' },
      restart: 'unless-stopped',
      extra_hosts: {
        'relink-nginx.man8s.local': '300:7547:78fb:902a:c078:fb01:c413:a24c',
        'nchat-element.man8s.local': '300:7547:78fb:902a:7f53:42ef:2c2b:cee9',
      },
      dns: '300:7547:78fb:902a:874a:2e22:fa0d:d5d7',
    });
    // §5 key order, labels last.
    assert.deepEqual(Object.keys(service), [
      'image', 'container_name', 'hostname', 'networks', 'ports', 'volumes', 'environment', 'restart', 'extra_hosts', 'dns', 'labels',
    ]);
    const compose = renderCompose(goldenFleet(), 'relink', 'relink-nginx');
    assert.deepEqual(compose.networks, { man8yggbr: { external: true } });
  });

  it('matches test/golden/relink.nerdctl.yaml', () => {
    const desired = desiredHost(goldenFleet(), 'relink');
    assertGolden('relink.nerdctl.yaml', composeYamlStream(desired.containers.map((c) => c.compose)));
  });

  it('matches test/golden/relink.docker.yaml', () => {
    const desired = desiredHost(goldenFleet(), 'relink', { engine: 'docker' });
    assertGolden('relink.docker.yaml', composeYamlStream(desired.containers.map((c) => c.compose)));
  });

  it('matches test/golden/lothric.docker.yaml (engine docker from host.yaml)', () => {
    const desired = desiredHost(goldenFleet(), 'lothric');
    assert.equal(desired.engine, 'docker');
    assertGolden('lothric.docker.yaml', composeYamlStream(desired.containers.map((c) => c.compose)));
  });

  it('golden YAML reads back as the rendered objects, under YAML 1.1 too (docker-compose v1)', () => {
    const desired = desiredHost(goldenFleet(), 'relink');
    const text = composeYamlStream(desired.containers.map((c) => c.compose));
    for (const version of ['1.1', '1.2'] as const) {
      const docs = parseAllDocuments(text, { version }).map((d) => (d as { toJS(): unknown }).toJS());
      assert.deepEqual(docs, desired.containers.map((c) => c.compose), version);
    }
  });
});

describe('render: rules', () => {
  const fleet = goldenFleet();

  it('follows a reference to a reference to the first container’s folder', () => {
    const backup = renderContainer(fleet, 'relink', 'nerchat-backup');
    assert.deepEqual(backup.service.volumes, ['/var/lib/man8s/socket/nerchat-pgsql/var/run/postgresql:/pg']);
    assert.deepEqual(backup.mounts[0]?.owner, [999, 999]);
    assert.equal(backup.mounts[0]?.perm, '775');
  });

  it('resolves a dns name to the host where that container lives', () => {
    const backup = renderService(fleet, 'relink', 'nerchat-backup');
    assert.equal(backup.dns, containerYggaddr(LOTHRIC_YGG, 'lothric-resolver'));
    assert.match(String(backup.dns), /^301:1111:2222:3333:/);
  });

  it('puts a cross-host local_access name into extra_hosts with the other host’s address', () => {
    const synapse = renderService(fleet, 'relink', 'nerchat-synapse');
    assert.deepEqual(synapse.extra_hosts, {
      'nerchat-synapse.man8s.local': containerYggaddr(RELINK_YGG, 'nerchat-synapse'),
      'us-prometheus.man8s.local': containerYggaddr(LOTHRIC_YGG, 'us-prometheus'),
    });
  });

  it('renders autostart false as restart "no" and merges extra_compose_configs last', () => {
    const backup = renderService(fleet, 'relink', 'nerchat-backup');
    assert.equal(backup.restart, 'no');
    assert.deepEqual(backup.entrypoint, ['/bin/sh', '-c']);
    assert.equal(backup.user, '999:999');
    // extra_compose_configs replaces a key Man8S also sets (environment), as mbctl does.
    assert.deepEqual(backup.environment, { PGHOST: '/pg', MERGED: 'from extra_compose_configs' });
    assert.equal(backup.labels?.team, 'chat');
    assert.equal(backup.labels?.[LABEL_MANAGED], 'true');
  });

  it('renders enable_ygg false on man8br without extra_hosts, for both engines', () => {
    for (const engine of ['nerdctl', 'docker'] as const) {
      const c = renderContainer(fleet, 'relink', 'legacy-app', { engine });
      assert.deepEqual(c.service.networks, ['man8br']);
      assert.equal(c.service.extra_hosts, undefined);
      assert.equal(c.service.dns, '1.1.1.1');
      assert.equal(c.yggaddr, undefined);
      assert.deepEqual(c.compose.networks, { man8br: { external: true } });
    }
  });

  it('pins the ygg address on docker and drops the [::] duplicates', () => {
    const nginx = renderService(fleet, 'relink', 'relink-nginx', { engine: 'docker' });
    assert.deepEqual(nginx.networks, { man8yggbr: { ipv6_address: '300:7547:78fb:902a:c078:fb01:c413:a24c' } });
    assert.deepEqual(nginx.ports, ['80:80', '53:53/udp']);
  });

  it('omits empty keys', () => {
    const service = renderService(relinkWith({ bare: { image: 'x' } }), 'relink', 'bare');
    assert.deepEqual(Object.keys(service), ['image', 'container_name', 'hostname', 'networks', 'restart', 'extra_hosts', 'labels']);
  });

  it('uses the host’s network names and local_domain', () => {
    const custom = relinkWith(
      { a: { image: 'x', local_access: ['b'] }, b: { image: 'y' } },
      { settings: { network: { withygg: 'yggnet', noygg: 'plain' }, local_domain: 'lan.example', storage_path: '/srv/m8' } },
    );
    const service = renderService(custom, 'relink', 'a');
    assert.deepEqual(service.networks, ['yggnet']);
    assert.deepEqual(Object.keys(service.extra_hosts ?? {}), ['a.lan.example', 'b.lan.example']);
    assert.deepEqual(renderCompose(custom, 'relink', 'a').networks, { yggnet: { external: true } });
  });

  it('names what exists when the host or container is unknown', () => {
    assert.throws(
      () => renderService(fleet, 'nowhere', 'x'),
      (e: unknown) => e instanceof UserError && e.message === 'unknown host "nowhere"; the fleet has: lothric, relink',
    );
    assert.throws(
      () => renderService(fleet, 'relink', 'us-prometheus'),
      (e: unknown) =>
        e instanceof UserError &&
        e.message ===
          'no container "us-prometheus" on relink (it is on lothric); relink has: legacy-app, nchat-element, nerchat-backup, nerchat-pgsql, nerchat-synapse, relink-nginx, relink-pdns-recursor',
    );
  });
});

describe('identity labels', () => {
  const base = {
    image: 'x:1',
    environment: { A: '1', B: '2' },
    mount: { conf: { '/etc/x': {} } },
  };
  const tree: TreeEntry[] = [
    { path: 'container.yaml', kind: 'file', mode: 0o644, sha256: '1'.repeat(64) },
    { path: 'etc/x/x.conf', kind: 'file', mode: 0o644, sha256: '2'.repeat(64) },
  ];
  const render = (yaml: Record<string, unknown>, conf = tree) =>
    renderContainer(relinkWith({ app: { yaml, trees: { conf } } }), 'relink', 'app');

  it('labels every service with managed, spec-hash and files-hash', () => {
    const c = render(base);
    assert.deepEqual(c.service.labels, { [LABEL_MANAGED]: 'true', [LABEL_SPEC_HASH]: c.specHash, [LABEL_FILES_HASH]: c.filesHash });
    assert.match(c.specHash, /^[0-9a-f]{64}$/);
    assert.match(c.filesHash, /^[0-9a-f]{64}$/);
  });

  it('are the same for the same input, whatever the key order', () => {
    const a = render(base);
    const b = render({ mount: base.mount, environment: { B: '2', A: '1' }, image: 'x:1' }, [...tree].reverse());
    assert.equal(a.specHash, b.specHash);
    assert.equal(a.filesHash, b.filesHash);
  });

  it('hashes canonical JSON (sorted keys at every depth), pinned so every machine agrees', () => {
    const c = render(base);
    const app = containerYggaddr(RELINK_YGG, 'app');
    // Written out by hand in sorted key order: the hash must not depend on how the object was built.
    const canonicalService =
      `{"mounts":[{"file":false,"owner":[0,0],"perm":"755","source":"/var/lib/man8s/conf/app/etc/x"}],` +
      `"service":{"container_name":"app","environment":{"A":"1","B":"2"},"extra_hosts":{"app.man8s.local":"${app}"},` +
      `"hostname":"app","image":"x:1","networks":["man8yggbr"],"restart":"unless-stopped",` +
      `"volumes":["/var/lib/man8s/conf/app/etc/x:/etc/x"]}}`;
    assert.equal(c.specHash, createHash('sha256').update(canonicalService).digest('hex'));
    const canonicalFiles = `{"conf":[{"kind":"file","mode":420,"path":"etc/x/x.conf","sha256":"${'2'.repeat(64)}"}],"plugin":[]}`;
    assert.equal(c.filesHash, createHash('sha256').update(canonicalFiles).digest('hex'));
    assert.equal(c.specHash, 'c79152d0108d2a31e4b3c1d0dd064b73da9fa17e7d000564602023bb0d5cc378');
    assert.equal(c.filesHash, '75e906f9a6a1d065b298878988399591e67aa2669d149666e9c5410add539521');
  });

  it('spec-hash changes with the service, not with conf content', () => {
    const a = render(base);
    assert.notEqual(render({ ...base, image: 'x:2' }).specHash, a.specHash);
    assert.notEqual(render({ ...base, port: [[80, 80]] }).specHash, a.specHash);
    assert.equal(render(base, [tree[0]!, { ...tree[1]!, sha256: '3'.repeat(64) }]).specHash, a.specHash);
  });

  it('spec-hash changes with how a mount folder is prepared (owner, perm)', () => {
    const a = render(base);
    assert.notEqual(render({ ...base, mount: { conf: { '/etc/x': { owner: [999, 999] } } } }).specHash, a.specHash);
    assert.notEqual(render({ ...base, mount: { conf: { '/etc/x': { perm: '700' } } } }).specHash, a.specHash);
  });

  it('files-hash changes with conf content, executable bit, links, not with container.yaml or metadata', () => {
    const a = render(base);
    assert.notEqual(render(base, [tree[0]!, { ...tree[1]!, sha256: '3'.repeat(64) }]).filesHash, a.filesHash);
    assert.notEqual(render(base, [tree[0]!, { ...tree[1]!, mode: 0o755 }]).filesHash, a.filesHash);
    // Only the executable bit counts: it is all git records, so umask differences never change the hash.
    assert.equal(render(base, [tree[0]!, { ...tree[1]!, mode: 0o600 }]).filesHash, a.filesHash);
    assert.notEqual(
      render(base, [...tree, { path: 'etc/x/l', kind: 'symlink', mode: 0o777, target: 'x.conf' }]).filesHash,
      a.filesHash,
    );
    assert.equal(render(base, [{ ...tree[0]!, sha256: '9'.repeat(64) }, tree[1]!]).filesHash, a.filesHash);
    assert.equal(render({ ...base, metadata: { author: 'someone' } }).specHash, a.specHash);
  });
});

describe('desiredHost', () => {
  it('lists containers in dependency level order with everything deploy needs', () => {
    const desired = desiredHost(goldenFleet(), 'relink');
    assert.deepEqual(desired.levels, [
      ['legacy-app', 'nchat-element', 'nerchat-pgsql', 'relink-nginx', 'relink-pdns-recursor'],
      ['nerchat-synapse'],
      ['nerchat-backup'],
    ]);
    assert.deepEqual(
      desired.containers.map((c) => [c.name, c.level]),
      [
        ['legacy-app', 0],
        ['nchat-element', 0],
        ['nerchat-pgsql', 0],
        ['relink-nginx', 0],
        ['relink-pdns-recursor', 0],
        ['nerchat-synapse', 1],
        ['nerchat-backup', 2],
      ],
    );
    const synapse = desired.containers.find((c) => c.name === 'nerchat-synapse')!;
    assert.equal(synapse.yggaddr, containerYggaddr(RELINK_YGG, 'nerchat-synapse'));
    assert.deepEqual(parse(composeYaml(synapse.compose)), synapse.compose);
    assert.deepEqual(
      synapse.mounts.map((m) => [m.type, m.target, m.source, m.owner, m.perm, m.file]),
      [
        ['log', '/log', '/var/lib/man8s/log/nerchat-synapse/log', [991, 991], '755', false],
        ['conf', '/config', '/var/lib/man8s/conf/nerchat-synapse/config', [0, 0], '755', false],
        ['conf', '/config/signing.key', '/var/lib/man8s/conf/nerchat-synapse/config/signing.key', [991, 991], '600', true],
        ['socket', '/db_socket', '/var/lib/man8s/socket/nerchat-pgsql/var/run/postgresql', [999, 999], '775', false],
      ],
    );
  });
});
