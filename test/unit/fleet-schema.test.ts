import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { APP_FILE, containerDiagnostics, hostDiagnostics, HOST_FILE } from '../support/fleet-fixture.js';
import { schemaFor } from '../../src/fleet/schema.js';
import { CONTAINER_DEFAULTS, HOST_DEFAULTS } from '../../src/fleet/defaults.js';
import { formatConfigPath } from '../../src/fleet/schema-messages.js';

const F = APP_FILE;
const H = HOST_FILE;

test('container.yaml: an unknown key names the likely typo at the key', (t) => {
  assert.deepEqual(containerDiagnostics(t, 'image: a\nimgae: b\n'), [`${F}:2:1: unknown key "imgae" (did you mean "image"?)`]);
});

test('container.yaml: an unknown key with no close match lists the known keys', (t) => {
  assert.deepEqual(containerDiagnostics(t, 'image: a\nvolumes: []\n'), [
    `${F}:2:1: unknown key "volumes" (known keys: image, enable_ygg, autostart, require, mount, port, environment, metadata, local_access, dns, extra_compose_configs)`,
  ]);
});

test('container.yaml: missing image, in an empty file and in a file with other keys', (t) => {
  assert.deepEqual(containerDiagnostics(t, ''), [`${F}:1:1: missing required key "image"`]);
  assert.deepEqual(containerDiagnostics(t, '# app\n\nautostart: false\n'), [`${F}:3:1: missing required key "image"`]);
});

test('container.yaml: empty and null values', (t) => {
  assert.deepEqual(containerDiagnostics(t, 'image: ""\n'), [`${F}:1:8: "image" must not be empty`]);
  assert.deepEqual(containerDiagnostics(t, 'image:\n'), [`${F}:1:1: "image" must be a string, got nothing`]);
});

test('container.yaml: booleans must be booleans', (t) => {
  assert.deepEqual(containerDiagnostics(t, 'image: a\nenable_ygg: yes\nautostart: 1\n'), [
    `${F}:2:13: "enable_ygg" must be true or false, got "yes"`,
    `${F}:3:12: "autostart" must be true or false, got 1`,
  ]);
});

test('container.yaml: ports out of range are reported at the number, every one of them', (t) => {
  const yaml = 'image: a\nport:\n  - [80, 80]\n  - [0, 70000]\n  - [53, 53, true]\n';
  assert.deepEqual(containerDiagnostics(t, yaml), [
    `${F}:4:6: "port[1][0]" must be between 1 and 65535, got 0`,
    `${F}:4:9: "port[1][1]" must be between 1 and 65535, got 70000`,
  ]);
});

test('container.yaml: port entries must be [host, container] or [host, container, udp]', (t) => {
  const yaml = 'image: a\nport:\n  - [80]\n  - "80:80"\n  - [80, 80, true, 1]\n  - [80, 80, "udp"]\n  - [80.5, 80]\n';
  assert.deepEqual(containerDiagnostics(t, yaml), [
    `${F}:3:5: "port[0]" must be [host, container] or [host, container, udp], got [80]`,
    `${F}:4:5: "port[1]" must be [host, container] or [host, container, udp], got "80:80"`,
    `${F}:5:5: "port[2]" must be [host, container] or [host, container, udp], got [80,80,true,1]`,
    `${F}:6:14: "port[3][2]" must be true or false, got "udp"`,
    `${F}:7:6: "port[4][0]" must be an integer, got 80.5`,
  ]);
  assert.deepEqual(containerDiagnostics(t, 'image: a\nport: 80\n'), [`${F}:2:7: "port" must be a list, got 80`]);
});

test('container.yaml: mount types and entry options', (t) => {
  const yaml = [
    'image: a',
    'mount:',
    '  confs:',
    '    /etc/x: {}',
    '  data:',
    '    /var/lib/x:',
    '      owner: [999]',
    '      perm: 755',
    '      sorce: /srv/x',
    '    /var/lib/y: {owner: [-1, 0], perm: "rwx", file: "yes"}',
    '    /var/lib/z: /srv/z',
    '',
  ].join('\n');
  assert.deepEqual(containerDiagnostics(t, yaml), [
    `${F}:3:3: unknown key "confs" in "mount" (did you mean "conf"?)`,
    `${F}:7:14: "mount.data[/var/lib/x].owner" must be [uid, gid], got [999]`,
    `${F}:8:13: "mount.data[/var/lib/x].perm" must be a quoted string, an octal mode like "755" or "0640", got 755 (a number: add quotes)`,
    `${F}:9:7: unknown key "sorce" in "mount.data[/var/lib/x]" (did you mean "source"?)`,
    `${F}:10:26: "mount.data[/var/lib/y].owner[0]" must be at least 0, got -1`,
    `${F}:10:40: "mount.data[/var/lib/y].perm" must be an octal mode like "755" or "0640", got "rwx"`,
    `${F}:10:53: "mount.data[/var/lib/y].file" must be true or false, got "yes"`,
    `${F}:11:17: "mount.data[/var/lib/z]" must be a map or empty, got "/srv/z"`,
  ]);
});

test('container.yaml: require and local_access hold container names, once each', (t) => {
  const yaml = 'image: a\nrequire: [db, db, Bad_Name]\nlocal_access: [lothric/us-grafana, "a b"]\n';
  assert.deepEqual(containerDiagnostics(t, yaml), [
    `${F}:2:15: "require" lists "db" twice`,
    `${F}:2:19: "require[2]" must be a container name (lowercase letters, digits and "-"), got "Bad_Name"`,
    `${F}:3:36: "local_access[1]" must be a container name or host/name, got "a b"`,
  ]);
  assert.deepEqual(containerDiagnostics(t, 'image: a\nrequire: db\n'), [`${F}:2:10: "require" must be a list, got "db"`]);
});

test('container.yaml: environment values are text, numbers or booleans', (t) => {
  assert.deepEqual(containerDiagnostics(t, 'image: a\nenvironment:\n  A: 1\n  B:\n  C: [x]\n'), [
    `${F}:4:3: "environment.B" must be a string, a number or a boolean, got nothing`,
    `${F}:5:6: "environment.C" must be a string, a number or a boolean, got ["x"]`,
  ]);
});

test('container.yaml: metadata keys, dns and extra_compose_configs shapes', (t) => {
  const yaml = 'image: a\nmetadata: {author: me, created: today}\ndns: ""\nextra_compose_configs: [entrypoint]\n';
  assert.deepEqual(containerDiagnostics(t, yaml), [
    `${F}:2:24: unknown key "created" in "metadata" (known keys: create_time, last_update_time, author)`,
    `${F}:3:6: "dns" must not be empty`,
    `${F}:4:24: "extra_compose_configs" must be a map, got ["entrypoint"]`,
  ]);
});

test('container.yaml: the document must be a map', (t) => {
  assert.deepEqual(containerDiagnostics(t, '- image: a\n'), [`${F}:1:1: the file must hold a map of keys (key: value), got [{"image":"a"}]`]);
  assert.deepEqual(containerDiagnostics(t, 'nginx\n'), [`${F}:1:1: the file must hold a map of keys (key: value), got "nginx"`]);
});

test('host.yaml: missing yggaddr, unknown keys, enum, paths and lists', (t) => {
  const yaml = [
    'engin: docker',
    'engine: podman',
    'storage_path: var/lib/man8s',
    'network: {withygg: yb, ygg: x}',
    'config_file: conf/container.yaml',
    'tags: [prod, prod, 3]',
    '',
  ].join('\n');
  assert.deepEqual(hostDiagnostics(t, yaml), [
    `${H}:1:1: missing required key "yggaddr"`,
    `${H}:1:1: unknown key "engin" (did you mean "engine"?)`,
    `${H}:2:9: "engine" must be one of nerdctl, docker, got "podman"`,
    `${H}:3:15: "storage_path" must be an absolute path, got "var/lib/man8s"`,
    `${H}:4:24: unknown key "ygg" in "network" (known keys: withygg, noygg)`,
    `${H}:5:14: "config_file" must be a file name without "/", got "conf/container.yaml"`,
    `${H}:6:14: "tags" lists "prod" twice`,
    `${H}:6:20: "tags[2]" must be a string, got 3`,
  ]);
});

test('host.yaml: yggaddr must be text (its address rules are checkFleet\'s)', (t) => {
  assert.deepEqual(hostDiagnostics(t, 'yggaddr: 200\n'), [`${H}:1:10: "yggaddr" must be a string, got 200`]);
});

test('man8s.yaml: unknown keys, and defaults may not set per-host keys', (t) => {
  const files = { 'man8s.yaml': 'flet: hosts\ndefaults:\n  yggaddr: 200::1\n  engine: docker\n' };
  assert.deepEqual(hostDiagnostics(t, 'yggaddr: 200::1\n', files), [
    'man8s.yaml:1:1: unknown key "flet" (did you mean "fleet"?)',
    'man8s.yaml:3:3: unknown key "yggaddr" in "defaults" (known keys: ssh_config, engine, storage_path, network, nerdconfig, local_domain, config_file, tags)',
  ]);
});

test('every property of every schema has a description, and closed maps refuse unknown keys', () => {
  for (const kind of ['container', 'host', 'man8s'] as const) {
    const missing: string[] = [];
    const open: string[] = [];
    const walk = (schema: any, where: string) => {
      if (!schema || typeof schema !== 'object') return;
      if (schema.properties) {
        if (schema.additionalProperties !== false) open.push(where);
        for (const [key, sub] of Object.entries<any>(schema.properties)) {
          if (typeof sub.description !== 'string' || sub.description.length < 8) missing.push(`${where}.${key}`);
          walk(sub, `${where}.${key}`);
        }
      }
      for (const key of ['items', 'additionalProperties']) if (schema[key] && typeof schema[key] === 'object') walk(schema[key], `${where}.${key}`);
      if (Array.isArray(schema.items)) schema.items.forEach((s: any, i: number) => walk(s, `${where}[${i}]`));
      for (const [name, sub] of Object.entries<any>(schema.definitions ?? {})) walk(sub, `${where}#${name}`);
    };
    walk(schemaFor(kind), kind);
    assert.deepEqual(missing, [], `${kind}: properties without a description`);
    assert.deepEqual(open, [], `${kind}: maps open to unknown keys`);
  }
});

test('the defaults the schemas declare are the defaults the loader applies', () => {
  const host = schemaFor('host').properties;
  for (const [key, value] of Object.entries(HOST_DEFAULTS)) assert.deepEqual(host[key].default, value, `host ${key}`);
  const container = schemaFor('container').properties;
  for (const [key, value] of Object.entries(CONTAINER_DEFAULTS)) assert.deepEqual(container[key].default, value, `container ${key}`);
});

test('schemaFor reads the files in schemas/ (what `man8s schema` prints)', () => {
  const onDisk = JSON.parse(readFileSync(new URL('../../schemas/container.schema.json', import.meta.url), 'utf8'));
  assert.deepEqual(schemaFor('container'), onDisk);
  assert.equal(schemaFor('man8s').properties.defaults.properties.yggaddr, undefined);
});

test('config paths print with dots for keys and brackets for indices and paths', () => {
  assert.equal(formatConfigPath(['port', 1, 0]), 'port[1][0]');
  assert.equal(formatConfigPath(['mount', 'conf', '/etc/nginx', 'perm']), 'mount.conf[/etc/nginx].perm');
  assert.equal(formatConfigPath(['environment', 'TZ']), 'environment.TZ');
  assert.equal(formatConfigPath([]), '');
});
