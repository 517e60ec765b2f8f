/**
 * The fleet behind the golden renders (test/golden/): the guide's relink containers plus the cases that
 * are easy to get wrong: a reference to a reference, a cross-host dns name, udp ports, autostart false,
 * enable_ygg false, extra_compose_configs merged last.
 */
import type { Fleet, TreeEntry } from '../../src/fleet/model.js';
import { buildFleet, RELINK_YGG } from './fleet-builder.js';

export const LOTHRIC_YGG = '201:1111:2222:3333:4444:5555:6666:7777';

const pgsqlConf: TreeEntry[] = [
  { path: 'container.yaml', kind: 'file', mode: 0o644, sha256: 'a'.repeat(64), size: 10 },
  { path: 'etc', kind: 'dir', mode: 0o755 },
  { path: 'etc/postgresql', kind: 'dir', mode: 0o755 },
  { path: 'etc/postgresql/postgresql.conf', kind: 'file', mode: 0o644, sha256: 'b'.repeat(64), size: 20 },
];

const nginxConf: TreeEntry[] = [
  { path: 'container.yaml', kind: 'file', mode: 0o644, sha256: 'c'.repeat(64), size: 10 },
  { path: 'etc/nginx/sites-available/x.conf', kind: 'file', mode: 0o644, sha256: 'd'.repeat(64), size: 5 },
  { path: 'etc/nginx/sites-enabled/x.conf', kind: 'symlink', mode: 0o777, target: '../sites-available/x.conf' },
];

export function goldenFleet(): Fleet {
  return buildFleet({
    relink: {
      yggaddr: RELINK_YGG,
      containers: {
        // MAN8S-SPEC §5's example, reproduced.
        'relink-nginx': {
          yaml: {
            image: 'registry.example/library/nginx',
            mount: {
              data: { '/etc/nginx': { source: '/etc/nginx' } },
              log: { '/var/log/nginx': { source: '/var/log/nginx' } },
            },
            port: [
              [80, 80],
              [53, 53, true],
            ],
            environment: { TZ: 'UTC' },
            dns: 'relink-pdns-recursor',
            local_access: ['nchat-element'],
          },
          trees: { conf: nginxConf },
        },
        'relink-pdns-recursor': { image: 'powerdns/pdns-recursor-54', port: [[5353, 53, true], [5353, 53]] },
        'nchat-element': { image: 'vectorim/element-web' },
        'nerchat-pgsql': {
          yaml: {
            image: 'library/postgres:18',
            mount: {
              conf: { '/etc/postgresql': {} },
              data: { '/var/lib/postgresql/data': { owner: [999, 999] } },
              socket: { '/var/run/postgresql': { owner: [999, 999], perm: '775' } },
            },
            extra_compose_configs: { command: ['postgres', '-c', 'config_file=/etc/postgresql/postgresql.conf'] },
          },
          trees: { conf: pgsqlConf },
        },
        'nerchat-synapse': {
          image: 'matrixdotorg/synapse',
          require: ['nerchat-pgsql'],
          mount: {
            conf: { '/config': {}, '/config/signing.key': { file: true, owner: [991, 991], perm: '600' } },
            log: { '/log': { owner: [991, 991] } },
            socket: { '/db_socket': { source: 'nerchat-pgsql:/var/run/postgresql' } },
          },
          // cross-host: us-prometheus lives on lothric only
          local_access: ['us-prometheus'],
        },
        // A reference to a reference, autostart false, extra_compose_configs merged last.
        'nerchat-backup': {
          image: 'registry.example/nerchat-backup:1',
          autostart: false,
          require: ['nerchat-synapse'],
          mount: { socket: { '/pg': { source: 'nerchat-synapse:/db_socket' } } },
          environment: { PGHOST: '/pg', B: 'second' },
          dns: 'lothric-resolver',
          extra_compose_configs: {
            entrypoint: ['/bin/sh', '-c'],
            user: '999:999',
            cap_add: ['DAC_READ_SEARCH'],
            labels: ['team=chat'],
            environment: { PGHOST: '/pg', MERGED: 'from extra_compose_configs' },
          },
        },
        // enable_ygg false: plain man8br, no extra_hosts, an IP dns.
        'legacy-app': { image: 'legacy:1', enable_ygg: false, dns: '1.1.1.1', port: [[8080, 80]] },
      },
    },
    lothric: {
      yggaddr: LOTHRIC_YGG,
      settings: { engine: 'docker' },
      containers: {
        'us-prometheus': { image: 'prom/prometheus' },
        'lothric-resolver': { image: 'powerdns/pdns-recursor-54' },
      },
    },
  });
}
