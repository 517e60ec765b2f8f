import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import {
  APP_FILE,
  containerDiagnostics,
  diagnosticsOf,
  HOST_FILE,
  HOST_YAML,
  loadRepo,
  makeRepo,
  OTHER_HOST_YAML,
} from '../support/fleet-fixture.js';
import { UserError } from '../../src/errors.js';
import { loadFleet } from '../../src/fleet/load.js';

const RELINK_ADDR = '200:7547:78fb:902a:9a09:9bff:f966:89a7';

test('every default of host.yaml and container.yaml is applied', (t) => {
  const dir = makeRepo(t, { [HOST_FILE]: HOST_YAML, [APP_FILE]: 'image: nginx\n' });
  const { fleet, diagnostics } = loadRepo(dir);
  assert.deepEqual(diagnostics, []);
  assert.equal(fleet.repoRoot, dir);
  assert.equal(fleet.root, join(dir, 'hosts'));
  const host = fleet.hosts.get('relink')!;
  assert.equal(host.dir, join(dir, 'hosts/relink'));
  assert.equal(host.file, 'hosts/relink/host.yaml');
  assert.deepEqual(host.settings, {
    ssh: 'relink',
    yggaddr: RELINK_ADDR,
    engine: 'nerdctl',
    storage_path: '/var/lib/man8s',
    network: { withygg: 'man8yggbr', noygg: 'man8br' },
    nerdconfig: { namespace: 'man8s.io', snapshotter: 'btrfs' },
    local_domain: 'man8s.local',
    config_file: 'container.yaml',
    tags: [],
  });
  const app = host.containers.get('app')!;
  assert.equal(app.name, 'app');
  assert.equal(app.host, 'relink');
  assert.equal(app.file, APP_FILE);
  assert.deepEqual(app.config, {
    image: 'nginx',
    enable_ygg: true,
    autostart: true,
    require: [],
    mount: { data: {}, log: {}, conf: {}, cache: {}, plugin: {}, socket: {} },
    port: [],
    environment: {},
    metadata: {},
    local_access: [],
    dns: 'host',
    extra_compose_configs: {},
  });
  assert.deepEqual(host.broken, new Set());
});

test('written values are kept: ports normalised, environment as text, mounts in file order', (t) => {
  const yaml = [
    'image: matrixdotorg/synapse',
    'enable_ygg: false',
    'autostart: false',
    'require: [nerchat-pgsql]',
    'mount:',
    '  socket:',
    '    /db_socket: {source: "nerchat-pgsql:/var/run/postgresql"}',
    '    /synapse_socket:',
    '      owner: [991, 991]',
    '  conf:',
    '    /config:',
    '    /etc/a.conf: {file: true, perm: "0640"}',
    'port: [[8008, 8008], [53, 53, true], [54, 54, false]]',
    'environment: {TZ: UTC, WORKERS: 4, DEBUG: false}',
    'metadata: {author: neboer}',
    'dns: 9.9.9.9',
    'local_access: [lothric/us-grafana]',
    'extra_compose_configs: {entrypoint: [sleep, infinity]}',
    '',
  ].join('\n');
  const dir = makeRepo(t, {
    [HOST_FILE]: HOST_YAML,
    [APP_FILE]: yaml,
    'hosts/relink/conf/app/etc/a.conf': 'x = 1\n',
    'hosts/relink/conf/nerchat-pgsql/container.yaml': 'image: postgres\n',
  });
  const { fleet, diagnostics } = loadRepo(dir);
  assert.deepEqual(diagnostics, []);
  const config = fleet.hosts.get('relink')!.containers.get('app')!.config;
  assert.deepEqual(config.port, [
    { host: 8008, container: 8008, udp: false },
    { host: 53, container: 53, udp: true },
    { host: 54, container: 54, udp: false },
  ]);
  assert.deepEqual(config.environment, { TZ: 'UTC', WORKERS: '4', DEBUG: 'false' });
  assert.deepEqual(Object.keys(config.mount.socket), ['/db_socket', '/synapse_socket']);
  assert.deepEqual(config.mount.socket, {
    '/db_socket': { source: 'nerchat-pgsql:/var/run/postgresql' },
    '/synapse_socket': { owner: [991, 991] },
  });
  assert.deepEqual(config.mount.conf, { '/config': {}, '/etc/a.conf': { file: true, perm: '0640' } });
  assert.equal(config.enable_ygg, false);
  assert.equal(config.autostart, false);
  assert.deepEqual(config.require, ['nerchat-pgsql']);
  assert.equal(config.dns, '9.9.9.9');
  assert.deepEqual(config.local_access, ['lothric/us-grafana']);
  assert.deepEqual(config.metadata, { author: 'neboer' });
  assert.deepEqual(config.extra_compose_configs, { entrypoint: ['sleep', 'infinity'] });
  assert.deepEqual([...fleet.hosts.get('relink')!.containers.keys()], ['app', 'nerchat-pgsql']);
});

test('man8s.yaml: fleet: moves the root, defaults merge under every host.yaml (maps key by key)', (t) => {
  const dir = makeRepo(t, {
    'man8s.yaml': 'fleet: infra/fleet\ndefaults:\n  engine: docker\n  network: {noygg: plainbr}\n  tags: [managed]\n  local_domain: corp.local\n',
    'infra/fleet/relink/host.yaml': `${HOST_YAML}ssh: root@relink.example:2222\nnetwork: {withygg: yggbr}\ntags: [prod]\n`,
    'infra/fleet/lothric/host.yaml': `${OTHER_HOST_YAML}engine: nerdctl\n`,
  });
  const { fleet, diagnostics } = loadRepo(dir);
  assert.deepEqual(diagnostics, []);
  assert.equal(fleet.root, join(dir, 'infra/fleet'));
  assert.deepEqual([...fleet.hosts.keys()], ['lothric', 'relink']);
  const relink = fleet.hosts.get('relink')!.settings;
  assert.equal(relink.ssh, 'root@relink.example:2222');
  assert.equal(relink.engine, 'docker');
  assert.deepEqual(relink.network, { withygg: 'yggbr', noygg: 'plainbr' });
  assert.deepEqual(relink.tags, ['prod']);
  assert.equal(relink.local_domain, 'corp.local');
  const lothric = fleet.hosts.get('lothric')!.settings;
  assert.equal(lothric.engine, 'nerdctl');
  assert.deepEqual(lothric.tags, ['managed']);
  assert.equal(fleet.hosts.get('lothric')!.file, 'infra/fleet/lothric/host.yaml');
});

test('ssh_config is resolved from the repository root, from man8s.yaml defaults or host.yaml', (t) => {
  const dir = makeRepo(t, {
    'man8s.yaml': 'defaults:\n  ssh_config: ops/ssh_config\n',
    'hosts/relink/host.yaml': HOST_YAML,
    'hosts/lothric/host.yaml': `${OTHER_HOST_YAML}ssh_config: /etc/fleet/ssh_config\n`,
  });
  const { fleet, diagnostics } = loadRepo(dir);
  assert.deepEqual(diagnostics, []);
  assert.equal(fleet.hosts.get('relink')!.settings.ssh_config, join(dir, 'ops/ssh_config'));
  assert.equal(fleet.hosts.get('lothric')!.settings.ssh_config, '/etc/fleet/ssh_config');
});

test('--fleet wins over man8s.yaml fleet:, and the defaults still apply', async (t) => {
  const dir = makeRepo(t, {
    'man8s.yaml': 'fleet: nowhere\ndefaults: {engine: docker}\n',
    'other/relink/host.yaml': HOST_YAML,
  });
  const { fleet, diagnostics } = await loadFleet({ cwd: dir, fleet: 'other' });
  assert.deepEqual(diagnostics, []);
  assert.equal(fleet.root, join(dir, 'other'));
  assert.equal(fleet.hosts.get('relink')!.settings.engine, 'docker');
});

test('a missing fleet root is a UserError naming the fix', (t) => {
  const dir = makeRepo(t, { 'README.md': 'x' });
  assert.throws(
    () => loadRepo(dir),
    (err: unknown) =>
      err instanceof UserError &&
      err.message ===
        'fleet root hosts (the default fleet root) does not exist; pass --fleet DIR, set fleet: in man8s.yaml, or create hosts/<host>/host.yaml',
  );
  assert.throws(() => loadRepo(dir, 'elsewhere'), { name: 'UserError', message: /^fleet root elsewhere \(--fleet\) does not exist; / });
  const settings = makeRepo(t, { 'man8s.yaml': 'fleet: fleet\n' });
  assert.throws(() => loadRepo(settings), { name: 'UserError', message: /^fleet root fleet \(fleet: in man8s\.yaml\) does not exist; / });
});

test('a fleet root that is a file is a UserError', (t) => {
  const dir = makeRepo(t, { hosts: 'not a folder\n' });
  assert.throws(() => loadRepo(dir), {
    name: 'UserError',
    message: 'fleet root hosts (the default fleet root) is not a folder; point --fleet at the folder with one folder per host',
  });
});

test('a host folder given as the fleet root is a UserError pointing at its parent', (t) => {
  const dir = makeRepo(t, { [HOST_FILE]: HOST_YAML });
  assert.throws(() => loadRepo(dir, 'hosts/relink'), {
    name: 'UserError',
    message:
      'fleet root hosts/relink (--fleet) holds a host.yaml, so it is a host folder; point --fleet at the folder with one folder per host (its parent)',
  });
});

test('dot folders and plain files in the fleet root are not hosts', (t) => {
  const dir = makeRepo(t, { [HOST_FILE]: HOST_YAML, 'hosts/README.md': '# hosts\n', 'hosts/.github/x': 'x' });
  const { fleet, diagnostics } = loadRepo(dir);
  assert.deepEqual(diagnostics, []);
  assert.deepEqual([...fleet.hosts.keys()], ['relink']);
});

test('a host folder without host.yaml is reported and left out', (t) => {
  const dir = makeRepo(t, { [HOST_FILE]: HOST_YAML, 'hosts/tarrey/conf/x/container.yaml': 'image: a\n' });
  const { fleet, diagnostics } = loadRepo(dir);
  assert.deepEqual(diagnostics.map((d) => `${d.file}:${d.line}:${d.col}: ${d.message}`), [
    'hosts/tarrey/host.yaml:1:1: missing host.yaml: every folder in the fleet root is a host (it needs at least yggaddr:); add one or move the folder out',
  ]);
  assert.deepEqual([...fleet.hosts.keys()], ['relink']);
});

test('a host with an invalid host.yaml is left out, but its containers are still checked', (t) => {
  const dir = makeRepo(t, {
    [HOST_FILE]: 'yggaddr: 200::1\nengine: podman\n',
    [APP_FILE]: 'image: a\nautostart: maybe\n',
    'hosts/lothric/host.yaml': OTHER_HOST_YAML,
  });
  const { fleet, diagnostics } = loadRepo(dir);
  assert.deepEqual(diagnostics.map((d) => `${d.file}:${d.line}:${d.col}: ${d.message}`), [
    `${APP_FILE}:2:12: "autostart" must be true or false, got "maybe"`,
    `${HOST_FILE}:2:9: "engine" must be one of nerdctl, docker, got "podman"`,
  ]);
  assert.deepEqual([...fleet.hosts.keys()], ['lothric']);
});

test('a host.yaml with a YAML error is left out', (t) => {
  const dir = makeRepo(t, { [HOST_FILE]: 'yggaddr: [200::1\n' });
  const { fleet, diagnostics } = loadRepo(dir);
  assert.equal(fleet.hosts.size, 0);
  assert.equal(diagnostics.length, 1);
  assert.equal(diagnostics[0]!.file, HOST_FILE);
  assert.match(diagnostics[0]!.message, /^YAML syntax: /);
});

test('containers with an invalid container.yaml go to broken, the others load', (t) => {
  const dir = makeRepo(t, {
    [HOST_FILE]: HOST_YAML,
    [APP_FILE]: 'image: a\nimage: b\n',
    'hosts/relink/conf/bad/container.yaml': 'image: 3\n',
    'hosts/relink/conf/good/container.yaml': 'image: ok\n',
  });
  const { fleet, diagnostics } = loadRepo(dir);
  assert.deepEqual(diagnostics.map((d) => `${d.file}:${d.line}:${d.col}: ${d.message}`), [
    `${APP_FILE}:2:1: duplicate key "image"`,
    'hosts/relink/conf/bad/container.yaml:1:8: "image" must be a string, got 3',
  ]);
  const host = fleet.hosts.get('relink')!;
  assert.deepEqual([...host.containers.keys()], ['good']);
  assert.deepEqual([...host.broken].sort(), ['app', 'bad']);
});

test('a container name must be a DNS label of at most 63 characters', (t) => {
  const long = 'a'.repeat(64);
  const ok63 = 'b'.repeat(63);
  const dir = makeRepo(t, {
    [HOST_FILE]: HOST_YAML,
    'hosts/relink/conf/Relink_Nginx/container.yaml': 'image: a\n',
    'hosts/relink/conf/-lead/container.yaml': 'image: a\n',
    'hosts/relink/conf/trail-/container.yaml': 'image: a\n',
    [`hosts/relink/conf/${long}/container.yaml`]: 'image: a\n',
    [`hosts/relink/conf/${ok63}/container.yaml`]: 'image: a\n',
    'hosts/relink/conf/0-9/container.yaml': 'image: a\n',
  });
  const { fleet, diagnostics } = loadRepo(dir);
  const rule =
    'must be a DNS label: lowercase letters, digits and "-", starting and ending with a letter or digit, at most 63 characters';
  assert.deepEqual(diagnostics.map((d) => `${d.file}:${d.line}:${d.col}: ${d.message}`), [
    `hosts/relink/conf/-lead:1:1: container name "-lead" (the folder name) ${rule}`,
    `hosts/relink/conf/Relink_Nginx:1:1: container name "Relink_Nginx" (the folder name) ${rule}`,
    `hosts/relink/conf/${long}:1:1: container name "${long}" (the folder name) ${rule}`,
    `hosts/relink/conf/trail-:1:1: container name "trail-" (the folder name) ${rule}`,
  ]);
  const host = fleet.hosts.get('relink')!;
  assert.deepEqual([...host.containers.keys()], ['0-9', ok63]);
  assert.deepEqual([...host.broken].sort(), ['-lead', 'Relink_Nginx', long, 'trail-']);
});

test('a folder under conf/ without container.yaml is a broken container', (t) => {
  const dir = makeRepo(t, { [HOST_FILE]: HOST_YAML, 'hosts/relink/conf/app/etc/nginx.conf': 'x\n' });
  const { fleet, diagnostics } = loadRepo(dir);
  assert.deepEqual(diagnostics.map((d) => `${d.file}:${d.line}:${d.col}: ${d.message}`), [
    `${APP_FILE}:1:1: missing container.yaml: every folder under conf/ is a container; add container.yaml (at least image:) or remove conf/app`,
  ]);
  assert.deepEqual([...fleet.hosts.get('relink')!.broken], ['app']);
});

test('a container.yaml that cannot be read is a diagnostic, not a crash', (t) => {
  const dir = makeRepo(t, { [HOST_FILE]: HOST_YAML, [`${APP_FILE}/x`]: 'x' });
  const { fleet, diagnostics } = loadRepo(dir);
  assert.deepEqual(diagnostics.map((d) => `${d.file}:${d.line}:${d.col}: ${d.message}`), [
    `${APP_FILE}:1:1: cannot read ${APP_FILE}: it is a folder`,
  ]);
  assert.deepEqual([...fleet.hosts.get('relink')!.broken], ['app']);
});

test('config_file names the config file of every container on the host', (t) => {
  const dir = makeRepo(t, {
    [HOST_FILE]: `${HOST_YAML}config_file: man8s.yaml\n`,
    'hosts/relink/conf/app/man8s.yaml': 'image: a\n',
    'hosts/relink/conf/old/container.yaml': 'image: a\n',
  });
  const { fleet, diagnostics } = loadRepo(dir);
  assert.deepEqual(diagnostics.map((d) => `${d.file}:${d.line}:${d.col}: ${d.message}`), [
    'hosts/relink/conf/old/man8s.yaml:1:1: missing man8s.yaml: every folder under conf/ is a container; add man8s.yaml (at least image:) or remove conf/old',
  ]);
  const app = fleet.hosts.get('relink')!.containers.get('app')!;
  assert.equal(app.file, 'hosts/relink/conf/app/man8s.yaml');
  assert.deepEqual(app.trees.conf.map((e) => e.path), ['man8s.yaml']);
});

test('plugin/<name> without conf/<name>, and files directly in conf/ or plugin/, are errors', (t) => {
  const dir = makeRepo(t, {
    [HOST_FILE]: HOST_YAML,
    [APP_FILE]: 'image: a\n',
    'hosts/relink/plugin/app/p.so': 'x',
    'hosts/relink/plugin/ghost/p.so': 'x',
    'hosts/relink/conf/notes.txt': 'x',
    'hosts/relink/plugin/README': 'x',
  });
  assert.deepEqual(loadRepo(dir).diagnostics.map((d) => `${d.file}:${d.line}:${d.col}: ${d.message}`), [
    'hosts/relink/conf/notes.txt:1:1: conf/notes.txt is not a folder: conf/ may only hold one folder per container',
    'hosts/relink/plugin/README:1:1: plugin/README is not a folder: plugin/ may only hold one folder per container',
    'hosts/relink/plugin/ghost:1:1: plugin/ghost has no container: there is no conf/ghost/container.yaml; add the container or remove plugin/ghost',
  ]);
});

test('trees list every file, folder and symlink of conf/<name> and plugin/<name>, container.yaml included; not empty folders', (t) => {
  const yaml = 'image: nginx\n';
  const conf = 'server {}\n';
  const dir = makeRepo(t, {
    [HOST_FILE]: HOST_YAML,
    [APP_FILE]: yaml,
    'hosts/relink/conf/app/etc/nginx/sites-available/site': conf,
    'hosts/relink/conf/app/etc/nginx/sites-enabled/site': { symlink: '../sites-available/site' },
    // Git cannot hold these: a checkout has them or not depending on its history, so they are not part of the tree.
    'hosts/relink/conf/app/empty': { dir: true },
    'hosts/relink/conf/app/etc/nginx/conf.d/empty-too': { dir: true },
    'hosts/relink/plugin/app/bin/hook': { content: '#!/bin/sh\n', mode: 0o750 },
  });
  const { fleet, diagnostics } = loadRepo(dir);
  assert.deepEqual(diagnostics, []);
  const trees = fleet.hosts.get('relink')!.containers.get('app')!.trees;
  const sha = (s: string) => createHash('sha256').update(s).digest('hex');
  // Modes as git records them, whatever the umask of the checkout: 0644/0755 files, 0755 folders.
  const dirMode = 0o755;
  const fileMode = 0o644;
  assert.deepEqual(trees.conf, [
    { path: 'container.yaml', kind: 'file', mode: fileMode, size: yaml.length, sha256: sha(yaml) },
    { path: 'etc', kind: 'dir', mode: dirMode },
    { path: 'etc/nginx', kind: 'dir', mode: dirMode },
    { path: 'etc/nginx/sites-available', kind: 'dir', mode: dirMode },
    { path: 'etc/nginx/sites-available/site', kind: 'file', mode: fileMode, size: conf.length, sha256: sha(conf) },
    { path: 'etc/nginx/sites-enabled', kind: 'dir', mode: dirMode },
    { path: 'etc/nginx/sites-enabled/site', kind: 'symlink', mode: 0o777, target: '../sites-available/site' },
  ]);
  assert.deepEqual(trees.plugin, [
    { path: 'bin', kind: 'dir', mode: dirMode },
    { path: 'bin/hook', kind: 'file', mode: 0o755, size: 10, sha256: sha('#!/bin/sh\n') },
  ]);
});

test('tree modes do not depend on the umask of the checkout', (t) => {
  const dir = makeRepo(t, {
    [HOST_FILE]: HOST_YAML,
    [APP_FILE]: 'image: a\n',
    'hosts/relink/conf/app/group-writable': { content: 'x', mode: 0o664 },
    'hosts/relink/conf/app/private': { content: 'x', mode: 0o600 },
    'hosts/relink/conf/app/script': { content: 'x', mode: 0o744 },
  });
  const conf = loadRepo(dir).fleet.hosts.get('relink')!.containers.get('app')!.trees.conf;
  const modeOf = (p: string) => conf.find((e) => e.path === p)!.mode;
  assert.deepEqual([modeOf('group-writable'), modeOf('private'), modeOf('script')], [0o644, 0o644, 0o755]);
});

test('symlinks must be relative and stay inside the container folder', (t) => {
  const dir = makeRepo(t, {
    [HOST_FILE]: HOST_YAML,
    [APP_FILE]: 'image: a\n',
    'hosts/relink/conf/app/shadow': { symlink: '/etc/shadow' },
    'hosts/relink/conf/app/etc/other': { symlink: '../../other' },
    'hosts/relink/conf/app/etc/up': { symlink: '..' },
    'hosts/relink/conf/app/etc/self': { symlink: '../etc/./x/../up' },
    'hosts/relink/conf/app/out': { symlink: '../app/../..' },
    'hosts/relink/plugin/app/lib': { symlink: '../../conf/app' },
  });
  const { fleet, diagnostics } = loadRepo(dir);
  assert.deepEqual(diagnostics.map((d) => `${d.file}:${d.line}:${d.col}: ${d.message}`), [
    "hosts/relink/conf/app/etc/other:1:1: symlink conf/app/etc/other -> ../../other points outside conf/app/; links must stay inside the container's folder",
    "hosts/relink/conf/app/out:1:1: symlink conf/app/out -> ../app/../.. points outside conf/app/; links must stay inside the container's folder",
    'hosts/relink/conf/app/shadow:1:1: symlink conf/app/shadow -> /etc/shadow is absolute; links in conf/app/ must be relative and stay inside it',
    "hosts/relink/plugin/app/lib:1:1: symlink plugin/app/lib -> ../../conf/app points outside plugin/app/; links must stay inside the container's folder",
  ]);
  // The container itself is fine; the problem is in its tree, which stays listed.
  assert.ok(fleet.hosts.get('relink')!.containers.has('app'));
});

test('a file: true conf/plugin mount with the default source must be a regular file in the repo', (t) => {
  const yaml = [
    'image: nginx',
    'mount:',
    '  conf:',
    '    /etc/nginx/nginx.conf: {file: true}',
    '    /etc/nginx/missing.conf: {file: true}',
    '    /etc/nginx/conf.d:',
    '      file: true',
    '    /etc/hosts.conf: {file: true, source: /etc/hosts}',
    '    /etc/nginx/mime.types: {file: false}',
    '  plugin:',
    '    /usr/lib/hook.so: {file: true}',
    '  data:',
    '    /var/lib/state.db: {file: true}',
    '',
  ].join('\n');
  assert.deepEqual(
    containerDiagnostics(t, yaml, {
      'hosts/relink/conf/app/etc/nginx/nginx.conf': 'events {}\n',
      'hosts/relink/conf/app/etc/nginx/conf.d/a.conf': 'x\n',
    }),
    [
      `${APP_FILE}:5:37: mount conf /etc/nginx/missing.conf has file: true but conf/app/etc/nginx/missing.conf is not in the repo; add the file (a file mount is never created)`,
      `${APP_FILE}:7:13: mount conf /etc/nginx/conf.d has file: true but conf/app/etc/nginx/conf.d is a folder, not a regular file`,
      `${APP_FILE}:11:30: mount plugin /usr/lib/hook.so has file: true but plugin/app/usr/lib/hook.so is not in the repo; add the file (a file mount is never created)`,
    ],
  );
});

test('a file: true mount may be a relative symlink to a file in the tree', (t) => {
  const yaml = 'image: nginx\nmount:\n  conf:\n    /etc/nginx/nginx.conf: {file: true}\n';
  assert.deepEqual(
    containerDiagnostics(t, yaml, {
      'hosts/relink/conf/app/etc/nginx/nginx.prod.conf': 'x\n',
      'hosts/relink/conf/app/etc/nginx/nginx.conf': { symlink: 'nginx.prod.conf' },
    }),
    [],
  );
});

test('one run reports the problems of every file', (t) => {
  const lines = diagnosticsOf(t, {
    [HOST_FILE]: HOST_YAML,
    'hosts/relink/conf/a/container.yaml': 'imag: x\n',
    'hosts/relink/conf/b/container.yaml': 'image: x\nport: [[0, 1]]\n',
    'hosts/lothric/host.yaml': 'ygg: x\n',
  });
  assert.deepEqual(lines, [
    'hosts/lothric/host.yaml:1:1: missing required key "yggaddr"',
    'hosts/lothric/host.yaml:1:1: unknown key "ygg" (known keys: ssh, ssh_config, yggaddr, engine, storage_path, network, nerdconfig, local_domain, config_file, tags)',
    'hosts/relink/conf/a/container.yaml:1:1: missing required key "image"',
    'hosts/relink/conf/a/container.yaml:1:1: unknown key "imag" (did you mean "image"?)',
    'hosts/relink/conf/b/container.yaml:2:9: "port[0][0]" must be between 1 and 65535, got 0',
  ]);
});
