import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatDiagnostic } from '../../src/fleet/model.js';
import { checkFleet } from '../../src/man8s/check.js';
import { buildFleet, relinkWith } from '../support/fleet-builder.js';

const LOTHRIC_YGG = '201:1111:2222:3333:4444:5555:6666:7777';
const TARREY_YGG = '202:aaaa:bbbb:cccc::1';

function problems(fleet: Parameters<typeof checkFleet>[0]): string[] {
  return checkFleet(fleet).map(formatDiagnostic);
}

const F = (name: string) => `hosts/relink/conf/${name}/container.yaml`;

describe('checkFleet: a clean fleet', () => {
  it('reports nothing for the guide’s nerchat pair with a socket reference', () => {
    const fleet = relinkWith({
      'nerchat-pgsql': { image: 'postgres:18', mount: { socket: { '/var/run/postgresql': { owner: [999, 999] } } } },
      'nerchat-synapse': {
        image: 'synapse',
        require: ['nerchat-pgsql'],
        mount: { socket: { '/db_socket': { source: 'nerchat-pgsql:/var/run/postgresql' } } },
      },
    });
    assert.deepEqual(problems(fleet), []);
  });
});

describe('checkFleet: yggaddr', () => {
  it('refuses a subnet address at host.yaml yggaddr', () => {
    const fleet = buildFleet({ relink: { yggaddr: '300:7547:78fb:902a::1', hostYaml: 'ssh: root@relink\nyggaddr: 300:7547:78fb:902a::1\n' } });
    assert.deepEqual(problems(fleet), [
      `hosts/relink/host.yaml:2:10: yggaddr "300:7547:78fb:902a::1" is a yggdrasil subnet address (first byte 0x03); use the host's node address, which starts with 2xx: (yggdrasilctl getSelf)`,
    ]);
  });
  it('refuses an address outside 200::/7', () => {
    const fleet = buildFleet({ relink: { yggaddr: 'fd00::1', hostYaml: 'yggaddr: fd00::1\n' } });
    assert.deepEqual(problems(fleet), [
      `hosts/relink/host.yaml:1:10: yggaddr "fd00::1" is outside 200::/7; use the host's yggdrasil address (yggdrasilctl getSelf)`,
    ]);
  });
});

describe('checkFleet: mount paths', () => {
  const yaml = [
    'image: x', //                              1
    'mount:', //                                2
    '  data:', //                               3
    '    etc/app: {}', //                       4
    '    /a/../b: {}', //                       5
    '    /srv//www: {}', //                     6
    '    /ok:', //                              7
    '      source: relative/path', //          8
    '    /ok2:', //                             9
    '      source: /mnt/x/./y', //             10
    '    /ok3:', //                            11
    '      source: /mnt/../etc', //            12
    '    /ok4:', //                            13
    '      source: "other:data"', //           14
    '    "/c:d": {}', //                       15
    '    /ok5:', //                            16
    '      source: "/mnt/a:b"', //             17
    '',
  ].join('\n');
  it('reports each bad key and source at its line:col', () => {
    assert.deepEqual(problems(relinkWith({ app: yaml })), [
      `${F('app')}:4:5: mount target "etc/app" must be an absolute path`,
      `${F('app')}:5:5: mount target "/a/../b" must not contain ".."`,
      `${F('app')}:6:5: mount target "/srv//www" is not normalised; write "/srv/www"`,
      `${F('app')}:8:15: mount source "relative/path" must be an absolute path or a reference <container>:/path`,
      `${F('app')}:10:15: mount source "/mnt/x/./y" is not normalised; write "/mnt/x/y"`,
      `${F('app')}:12:15: mount source "/mnt/../etc" must not contain ".."`,
      `${F('app')}:14:15: mount source "other:data": referenced path "data" must be an absolute path`,
      `${F('app')}:15:5: mount target "/c:d" must not contain ":" (compose volumes are written source:target)`,
      `${F('app')}:17:15: mount source "/mnt/a:b" must not contain ":" (compose volumes are written source:target)`,
    ]);
  });

  it('accepts a trailing slash (the guide writes /var/lib/secrets/) but counts it as the same target', () => {
    const yaml2 = ['image: x', 'mount:', '  data:', '    /var/lib/secrets/: {}', '  conf:', '    /var/lib/secrets: {}', ''].join('\n');
    assert.deepEqual(problems(relinkWith({ app: yaml2 })), [
      `${F('app')}:6:5: mount target "/var/lib/secrets" is mounted twice (also in mount.data)`,
    ]);
  });

  it('reports a target mounted twice across types', () => {
    const yaml3 = ['image: x', 'mount:', '  data:', '    /etc/nginx: {}', '  log:', '    /var/log: {}', '  conf:', '    /etc/nginx: {}', ''].join('\n');
    assert.deepEqual(problems(relinkWith({ app: yaml3 })), [
      `${F('app')}:8:5: mount target "/etc/nginx" is mounted twice (also in mount.data)`,
    ]);
  });
});

describe('checkFleet: mount references', () => {
  const pgsql = { image: 'postgres', mount: { socket: { '/var/run/postgresql': { owner: [999, 999] } }, data: { '/data': {} } } };

  it('needs the referenced container in require', () => {
    const synapse = ['image: s', 'mount:', '  socket:', '    /db_socket:', '      source: nerchat-pgsql:/var/run/postgresql', ''].join('\n');
    assert.deepEqual(problems(relinkWith({ 'nerchat-pgsql': pgsql, 'nerchat-synapse': synapse })), [
      `${F('nerchat-synapse')}:5:15: mount source "nerchat-pgsql:/var/run/postgresql" refers to nerchat-pgsql, which is not in require; add it to require`,
    ]);
  });

  it('needs the referenced path among the other container’s mount targets', () => {
    const synapse = [
      'image: s',
      'require: [nerchat-pgsql]',
      'mount:',
      '  socket:',
      '    /db_socket:',
      '      source: nerchat-pgsql:/run/postgresql',
      '',
    ].join('\n');
    assert.deepEqual(problems(relinkWith({ 'nerchat-pgsql': pgsql, 'nerchat-synapse': synapse })), [
      `${F('nerchat-synapse')}:6:15: mount source "nerchat-pgsql:/run/postgresql": nerchat-pgsql has no mount at /run/postgresql (its mounts: /data, /var/run/postgresql)`,
    ]);
  });

  it('says so when the other container has no mounts at all', () => {
    const b = ['image: s', 'require: [a]', 'mount:', '  data:', '    /x:', '      source: a:/x', ''].join('\n');
    assert.deepEqual(problems(relinkWith({ a: { image: 'a' }, b })), [
      `${F('b')}:6:15: mount source "a:/x": a has no mount at /x (it has no mounts)`,
    ]);
  });

  it('reports a missing referenced container once, on require', () => {
    const b = ['image: s', 'require: [ghost]', 'mount:', '  data:', '    /x:', '      source: ghost:/x', ''].join('\n');
    assert.deepEqual(problems(relinkWith({ b })), [`${F('b')}:2:11: require: no container "ghost" on relink`]);
  });

  it('stays silent about a broken referenced container (the loader reported it)', () => {
    const b = ['image: s', 'require: [a]', 'mount:', '  data:', '    /x:', '      source: a:/x', ''].join('\n');
    assert.deepEqual(problems(relinkWith({ b }, { broken: ['a'] })), []);
  });

  it('accepts a reference to a reference', () => {
    const fleet = relinkWith({
      a: { image: 'a', mount: { data: { '/shared': { owner: [1, 1] } } } },
      b: { image: 'b', require: ['a'], mount: { data: { '/from-a': { source: 'a:/shared' } } } },
      c: { image: 'c', require: ['b'], mount: { data: { '/from-b': { source: 'b:/from-a' } } } },
    });
    assert.deepEqual(problems(fleet), []);
  });
});

describe('checkFleet: require and cycles', () => {
  it('reports an unknown require at its entry', () => {
    const a = ['image: a', 'require:', '  - b', '  - nope', ''].join('\n');
    assert.deepEqual(problems(relinkWith({ a, b: { image: 'b' } })), [`${F('a')}:4:5: require: no container "nope" on relink`]);
  });

  it('does not look for require on other hosts', () => {
    const fleet = buildFleet({
      relink: { containers: { a: 'image: a\nrequire: [b]\n' } },
      lothric: { yggaddr: LOTHRIC_YGG, containers: { b: { image: 'b' } } },
    });
    assert.deepEqual(problems(fleet), [`${F('a')}:2:11: require: no container "b" on relink`]);
  });

  it('reports a cycle once with its path a → b → c → a', () => {
    const fleet = relinkWith({
      a: 'image: a\nrequire: [b]\n',
      b: 'image: b\nrequire: [c]\n',
      c: 'image: c\nrequire: [a]\n',
      d: 'image: d\nrequire: [a]\n',
    });
    assert.deepEqual(problems(fleet), [`${F('a')}:2:11: dependency cycle: a → b → c → a`]);
  });

  it('reports a self-require as a cycle', () => {
    assert.deepEqual(problems(relinkWith({ a: 'image: a\nrequire: [x, a]\n', x: { image: 'x' } })), [
      `${F('a')}:2:14: dependency cycle: a → a`,
    ]);
  });

  it('reports two separate cycles separately', () => {
    const fleet = relinkWith({
      a: 'image: a\nrequire: [b]\n',
      b: 'image: b\nrequire: [a]\n',
      x: 'image: x\nrequire: [y]\n',
      y: 'image: y\nrequire: [x]\n',
    });
    assert.deepEqual(problems(fleet), [
      `${F('a')}:2:11: dependency cycle: a → b → a`,
      `${F('x')}:2:11: dependency cycle: x → y → x`,
    ]);
  });

  it('does not report require of a broken container', () => {
    assert.deepEqual(problems(relinkWith({ a: 'image: a\nrequire: [b]\n' }, { broken: ['b'] })), []);
  });
});

describe('checkFleet: dns and local_access, fleet-wide', () => {
  const threeHosts = (relinkApp: string) =>
    buildFleet({
      relink: { containers: { app: relinkApp, 'relink-pdns-recursor': { image: 'pdns' }, exporter: { image: 'e' } } },
      lothric: { yggaddr: LOTHRIC_YGG, containers: { 'us-grafana': { image: 'g' }, exporter: { image: 'e' }, 'node-exp': { image: 'n' } } },
      tarrey: { yggaddr: TARREY_YGG, containers: { exporter: { image: 'e' }, 'node-exp': { image: 'n' } } },
    });

  it('resolves same-host, one-other-host and host/name references', () => {
    const app = 'image: a\ndns: relink-pdns-recursor\nlocal_access: [us-grafana, exporter, tarrey/node-exp]\n';
    assert.deepEqual(problems(threeHosts(app)), []);
  });

  it('accepts dns host and IP literals', () => {
    assert.deepEqual(problems(threeHosts('image: a\ndns: host\n')), []);
    assert.deepEqual(problems(threeHosts('image: a\ndns: 9.9.9.9\n')), []);
    assert.deepEqual(problems(threeHosts('image: a\ndns: "2620:fe::fe"\n')), []);
  });

  it('reports an unknown name', () => {
    assert.deepEqual(problems(threeHosts('image: a\ndns: nothere\nlocal_access: [ghost]\n')), [
      `${F('app')}:2:6: dns: no container "nothere" on relink or any other host`,
      `${F('app')}:3:16: local_access: no container "ghost" on relink or any other host`,
    ]);
  });

  it('reports an ambiguous name with the hosts to choose from', () => {
    assert.deepEqual(problems(threeHosts('image: a\nlocal_access:\n  - node-exp\n')), [
      `${F('app')}:3:5: local_access: "node-exp" is not on relink but on several other hosts (lothric, tarrey); write lothric/node-exp or tarrey/node-exp`,
    ]);
  });

  it('reports host/name with an unknown host or a host without that name', () => {
    assert.deepEqual(problems(threeHosts('image: a\ndns: nohost/x\nlocal_access: [tarrey/us-grafana]\n')), [
      `${F('app')}:2:6: dns: no host "nohost" in the fleet (hosts: lothric, relink, tarrey)`,
      `${F('app')}:3:16: local_access: no container "us-grafana" on host tarrey`,
    ]);
  });

  it('refuses enable_ygg: false with dns: <container> or local_access', () => {
    const app = 'image: a\nenable_ygg: false\ndns: relink-pdns-recursor\nlocal_access: [exporter]\n';
    assert.deepEqual(problems(threeHosts(app)), [
      `${F('app')}:3:6: dns: "relink-pdns-recursor" names a container, which needs enable_ygg: true; use host or an IP address`,
      `${F('app')}:4:15: local_access needs enable_ygg: true (without ygg the container gets no hosts entries)`,
    ]);
  });

  it('allows enable_ygg: false with dns host or an IP', () => {
    assert.deepEqual(problems(threeHosts('image: a\nenable_ygg: false\ndns: 1.1.1.1\n')), []);
  });

  it('refuses pointing at a container that has enable_ygg: false', () => {
    const fleet = relinkWith({ app: 'image: a\ndns: r\nlocal_access: [r]\n', r: { image: 'r', enable_ygg: false } });
    assert.deepEqual(problems(fleet), [
      `${F('app')}:2:6: dns: r on relink has enable_ygg: false, so it has no ygg address`,
      `${F('app')}:3:16: local_access: r on relink has enable_ygg: false, so it has no ygg address`,
    ]);
  });

  it('refuses two entries that would be the same hosts name', () => {
    const app = 'image: a\nlocal_access: [exporter, lothric/exporter, tarrey/app]\n';
    assert.deepEqual(problems(buildFleet({
      relink: { containers: { app, exporter: { image: 'e' } } },
      lothric: { yggaddr: LOTHRIC_YGG, containers: { exporter: { image: 'e' } } },
      tarrey: { yggaddr: TARREY_YGG, containers: { app: { image: 'e' } } },
    })), [
      `${F('app')}:2:26: local_access: "lothric/exporter" (on lothric) and "exporter" (on relink) would both be exporter.man8s.local`,
      `${F('app')}:2:44: local_access: "tarrey/app" (on tarrey) and the container itself (on relink) would both be app.man8s.local`,
    ]);
  });

  it('resolves to a broken container without a second error', () => {
    const fleet = buildFleet({
      relink: { containers: { app: 'image: a\ndns: rec\n' } },
      lothric: { yggaddr: LOTHRIC_YGG, broken: ['rec'] },
    });
    assert.deepEqual(problems(fleet), []);
  });
});

describe('checkFleet: extra_compose_configs', () => {
  it('refuses every key Man8S owns, at the key', () => {
    const keys = ['image', 'container_name', 'extra_hosts', 'network_mode', 'networks', 'volumes', 'mounts', 'restart', 'ports', 'hostname'];
    const yaml = ['image: a', 'extra_compose_configs:', '  entrypoint: [sleep, infinity]', ...keys.map((k) => `  ${k}: x`), ''].join('\n');
    assert.deepEqual(
      problems(relinkWith({ app: yaml })),
      keys.map((k, i) => `${F('app')}:${i + 4}:3: extra_compose_configs: "${k}" is set by Man8S and cannot be overridden`),
    );
  });
  it('refuses io.man8s.* labels in both label forms', () => {
    const mapForm = 'image: a\nextra_compose_configs:\n  labels:\n    team: web\n    io.man8s.managed: "false"\n';
    assert.deepEqual(problems(relinkWith({ app: mapForm })), [
      `${F('app')}:5:5: extra_compose_configs: label "io.man8s.managed" is reserved for man8s (io.man8s.*)`,
    ]);
    const listForm = 'image: a\nextra_compose_configs:\n  labels: [team=web, io.man8s.spec-hash=abc]\n';
    assert.deepEqual(problems(relinkWith({ app: listForm })), [
      `${F('app')}:3:22: extra_compose_configs: label "io.man8s.spec-hash" is reserved for man8s (io.man8s.*)`,
    ]);
  });
});

describe('checkFleet: ports', () => {
  it('refuses ports outside 1–65535', () => {
    const yaml = 'image: a\nport:\n  - [0, 80]\n  - [8080, 65536]\n';
    assert.deepEqual(problems(relinkWith({ app: yaml })), [
      `${F('app')}:3:6: port 0 is out of range 1–65535`,
      `${F('app')}:4:12: port 65536 is out of range 1–65535`,
    ]);
  });
  it('refuses the same host port and protocol on two containers of one host, naming both', () => {
    const fleet = relinkWith({
      a: 'image: a\nport:\n  - [80, 80]\n  - [53, 53, true]\n',
      b: 'image: b\nport:\n  - [53, 53]\n  - [8080, 80]\n  - [80, 8080]\n',
    });
    assert.deepEqual(problems(fleet), [`${F('b')}:5:6: host port 80/tcp is used by both a and b on relink`]);
  });
  it('refuses the same host port twice in one container', () => {
    assert.deepEqual(problems(relinkWith({ a: 'image: a\nport: [[80, 80], [80, 81]]\n' })), [
      `${F('a')}:2:19: host port 80/tcp is used twice by a`,
    ]);
  });
  it('allows the same port on different hosts and tcp+udp on one', () => {
    const fleet = buildFleet({
      relink: { containers: { a: { image: 'a', port: [[53, 53], [53, 53, true]] } } },
      lothric: { yggaddr: LOTHRIC_YGG, containers: { a: { image: 'a', port: [[53, 53]] } } },
    });
    assert.deepEqual(problems(fleet), []);
  });
});
