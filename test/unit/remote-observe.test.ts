import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  OBSERVE_MAGIC,
  observeCommand,
  parseDf,
  parseInspect,
  parseObserveOutput,
  parseSha256z,
  parseYggSelf,
  splitSections,
} from '../../src/remote/observe.js';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

function frame(sections: Array<[string, number, string | Buffer, string?]>): Buffer {
  const parts: Buffer[] = [Buffer.from(`login banner junk\n${OBSERVE_MAGIC}`)];
  for (const [name, rc, out, err = ''] of sections) {
    const o = Buffer.from(out);
    const e = Buffer.from(err);
    parts.push(Buffer.from(`@@man8s ${name} ${rc} ${o.length} ${e.length}\n`), o, e);
  }
  return Buffer.concat(parts);
}

test('sections are framed by byte length, so content that looks like a header is harmless', () => {
  const tricky = 'x\n@@man8s fake 0 0 0\nü';
  const s = splitSections(frame([['a', 0, tricky, 'warn'], ['b', 3, '']]));
  assert.equal(s.get('a')!.out.toString(), tricky);
  assert.equal(s.get('a')!.err.toString(), 'warn');
  assert.equal(s.get('b')!.rc, 3);
  assert.equal(s.has('fake'), false);
  assert.throws(() => splitSections(Buffer.from('no header')), /no man8s-observe header/);
  assert.throws(() => splitSections(Buffer.concat([Buffer.from(OBSERVE_MAGIC), Buffer.from('@@man8s a 0 10 0\nabc')])), /truncated/);
});

const INSPECT = JSON.stringify([
  {
    Id: 'abc123',
    Name: '/web',
    Created: '2024-01-01T00:00:00Z',
    Image: 'sha256:img1',
    State: { Status: 'running', Running: true, ExitCode: 0, StartedAt: '2024-01-01T00:00:01Z', Health: { Status: 'healthy' } },
    Config: { Image: 'nginx:1', Labels: { 'io.man8s.managed': 'true', 'io.man8s.spec': 'h1' } },
  },
  { Id: 'def456', Name: 'db', Created: 'c', Image: 'sha256:img2', State: { Status: 'exited', Running: false, ExitCode: 1 }, Config: { Image: 'pg', Labels: null } },
]);

test('a fixture output with nasty names parses into Observed', () => {
  const tree = ['d', '755', '4096', 'web', '', 'd', '755', '4096', 'we ird', '', 'f', '644', '3', 'we ird/new\nline', '', 'l', '777', '9', 'web/link', '../target', 'f', '600', '2', 'stray', '', 'p', '644', '0', 'web/fifo', ''].join('\0') + '\0';
  const hashes = `${sha('abc')}  ./we ird/new\nline\0`;
  const out = frame([
    ['meta', 0, 'hostname=relink\ntime=1700000000\n'],
    ['storage', 0, 'd conf\0d data\0f junk file\0'],
    ['tree.conf', 0, tree],
    ['hash.conf', 0, hashes],
    ['tree.plugin', 3, ''],
    ['hash.plugin', 3, ''],
    ['engine', 0, 'present=1\nversion=24.0.7\ncompose=docker-compose-v1\ncompose_version=1.29.2\n'],
    ['containers', 0, INSPECT],
    ['images', 0, 'nginx:1\tsha256:img9\n'],
    ['ygg', 0, '{"build_name":"yggdrasil","address":"200:7547::1","subnet":"300:7547::/64"}'],
    ['lock', 0, 'status=held reason=session-alive expires_in=100\nholder={"who":"me@laptop","host":"relink","pid":1,"startedAt":"t","ttl":3600,"token":"x"}\n'],
    ['disk', 0, 'Filesystem 1024-blocks Used Available Capacity Mounted on\n/dev/sda1 1000 400 600 40% /\n'],
    ['compose', 0, `${sha('y')}  ./web/compose.yaml\0`],
    ['started', 0, `web ${sha('files')}\nbad line\ndb short\n`],
  ]);
  const o = parseObserveOutput(out, { storagePath: '/var/lib/man8s', engine: 'docker' });
  assert.equal(o.hostname, 'relink');
  assert.equal(o.time, 1700000000);
  assert.deepEqual(o.storage, {
    path: '/var/lib/man8s',
    exists: true,
    folders: { data: true, log: false, conf: true, cache: false, plugin: false, socket: false },
    extras: ['junk file'],
  });
  assert.deepEqual(o.trees.conf, {
    web: [{ path: 'link', kind: 'symlink', mode: 0o777, target: '../target' }],
    'we ird': [{ path: 'new\nline', kind: 'file', mode: 0o644, size: 3, sha256: sha('abc') }],
  });
  assert.deepEqual(o.trees.plugin, {});
  assert.deepEqual(o.strayTreeEntries, ['conf/stray']);
  assert.deepEqual(o.engine, { kind: 'docker', present: true, version: '24.0.7', compose: 'docker-compose-v1', composeVersion: '1.29.2' });
  assert.equal(o.containers.length, 1);
  assert.deepEqual(o.containers[0], {
    name: 'web',
    id: 'abc123',
    state: 'running',
    running: true,
    exitCode: 0,
    startedAt: '2024-01-01T00:00:01Z',
    health: 'healthy',
    image: 'nginx:1',
    imageId: 'sha256:img1',
    labels: { 'io.man8s.managed': 'true', 'io.man8s.spec': 'h1' },
    created: '2024-01-01T00:00:00Z',
    managed: true,
  });
  assert.equal(o.unlabeled[0]!.name, 'db');
  assert.equal(o.unlabeled[0]!.managed, false);
  assert.deepEqual(o.imageIds, { 'nginx:1': 'sha256:img9' });
  assert.deepEqual(o.ygg, { present: true, address: '200:7547::1' });
  assert.equal(o.lock.status, 'held');
  assert.equal(o.lock.holder?.who, 'me@laptop');
  assert.deepEqual(o.disk, { totalBytes: 1024000, availableBytes: 614400 });
  assert.deepEqual(o.composeFiles, { web: sha('y') });
  assert.deepEqual(o.startedFiles, { web: sha('files') });
  assert.equal(o.warnings.length, 1);
  assert.match(o.warnings[0]!, /web\/fifo: not a file, folder or symlink/);
});

test('a bare host: no storage, no engine, no yggdrasil', () => {
  const out = frame([
    ['meta', 0, 'hostname=new\ntime=1\n'],
    ['storage', 3, ''],
    ['tree.conf', 3, ''],
    ['hash.conf', 3, ''],
    ['tree.plugin', 3, ''],
    ['hash.plugin', 3, ''],
    ['engine', 0, 'present=0\n'],
    ['containers', 3, ''],
    ['images', 0, ''],
    ['ygg', 3, ''],
    ['lock', 0, 'status=free\n'],
    ['disk', 0, 'Filesystem 1024-blocks Used Available Capacity Mounted on\n/dev/x 10 1 9 10% /\n'],
    ['compose', 0, ''],
  ]);
  const o = parseObserveOutput(out, { storagePath: '/var/lib/man8s', engine: 'nerdctl' });
  assert.equal(o.storage.exists, false);
  assert.deepEqual(o.trees, { conf: {}, plugin: {} });
  assert.deepEqual(o.engine, { kind: 'nerdctl', present: false });
  assert.deepEqual(o.containers, []);
  assert.deepEqual(o.ygg, { present: false });
  assert.deepEqual(o.lock, { status: 'free' });
  assert.deepEqual(o.warnings, []);
});

test('small parsers: sha256sum -z, inspect, yggdrasil 0.4 and 0.5, df', () => {
  assert.deepEqual([...parseSha256z(Buffer.from(`${sha('a')}  ./x y\0${sha('b')} *./z\0`))], [
    ['x y', sha('a')],
    ['z', sha('b')],
  ]);
  assert.deepEqual(parseInspect(' '), []);
  assert.equal(parseYggSelf('{"self":{"200:1::2":{"coords":"[1]"}}}'), '200:1::2');
  assert.equal(parseYggSelf('{"address":"200:1::3"}'), '200:1::3');
  assert.equal(parseYggSelf('not json'), undefined);
  assert.equal(parseDf('junk'), undefined);
});

test('the real script, run locally with sh, on a tree with nasty names', () => {
  const root = mkdtempSync(join(tmpdir(), 'man8s-observe-'));
  const sp = join(root, 'man8s');
  const bin = join(root, 'bin');
  mkdirSync(join(sp, 'conf', 'web', 'etc', 'nginx', 'sites-available'), { recursive: true });
  mkdirSync(join(sp, 'conf', 'web', 'etc', 'nginx', 'sites-enabled'));
  mkdirSync(join(sp, 'conf', 'odd name'));
  mkdirSync(join(sp, 'plugin', 'web'), { recursive: true });
  mkdirSync(join(sp, 'data', 'web'), { recursive: true });
  writeFileSync(join(sp, 'conf', 'web', 'etc', 'nginx', 'sites-available', 'x'), 'server {}\n');
  symlinkSync('../sites-available/x', join(sp, 'conf', 'web', 'etc', 'nginx', 'sites-enabled', 'x'));
  writeFileSync(join(sp, 'conf', 'odd name', "new\nline 'q' \\ $(x)"), 'v');
  writeFileSync(join(sp, 'plugin', 'web', 'run.sh'), '#!/bin/sh\n', { mode: 0o755 });
  writeFileSync(join(sp, 'data', 'web', 'huge.db'), 'never hashed');
  // A fake docker that answers like a host without Man8S containers, so the test needs no daemon.
  mkdirSync(bin);
  writeFileSync(
    join(bin, 'docker'),
    '#!/bin/sh\ncase "$1 $2" in\n"version --format") echo 27.0.1;;\n"compose version") echo 2.29.0;;\n"ps -a") ;;\n*) exit 1;;\nesac\n',
  );
  chmodSync(join(bin, 'docker'), 0o755);
  // What the command that last started web recorded (engine.ts startContainersCommand / composeApplyCommand).
  mkdirSync(join(root, 'man8s-state', 'compose', 'web'), { recursive: true });
  writeFileSync(join(root, 'man8s-state', 'compose', 'web', 'started-files-hash'), `${sha('started')}\n`);
  mkdirSync(join(root, 'man8s-state', 'compose', 'never-started'));
  const cmd = observeCommand({ storagePath: sp, engine: 'docker', lockDir: join(root, 'lock') });
  const out = execFileSync(cmd.argv[0]!, cmd.argv.slice(1), { input: cmd.stdin, env: { ...process.env, PATH: `${bin}:${process.env.PATH}` } });
  const o = parseObserveOutput(out, { storagePath: sp, engine: 'docker' });
  assert.deepEqual(o.storage.folders, { data: true, log: false, conf: true, cache: false, plugin: true, socket: false });
  assert.deepEqual(Object.keys(o.trees.conf).sort(), ['odd name', 'web']);
  assert.deepEqual(o.trees.conf['odd name'], [{ path: "new\nline 'q' \\ $(x)", kind: 'file', mode: 0o644, size: 1, sha256: sha('v') }]);
  assert.deepEqual(
    o.trees.conf.web!.map((e) => [e.path, e.kind, e.target ?? e.sha256 ?? '']),
    [
      ['etc', 'dir', ''],
      ['etc/nginx', 'dir', ''],
      ['etc/nginx/sites-available', 'dir', ''],
      ['etc/nginx/sites-available/x', 'file', sha('server {}\n')],
      ['etc/nginx/sites-enabled', 'dir', ''],
      ['etc/nginx/sites-enabled/x', 'symlink', '../sites-available/x'],
    ],
  );
  assert.deepEqual(o.trees.plugin.web, [{ path: 'run.sh', kind: 'file', mode: 0o755, size: 10, sha256: sha('#!/bin/sh\n') }]);
  assert.deepEqual(o.engine, { kind: 'docker', present: true, version: '27.0.1', compose: 'docker-compose-v2', composeVersion: '2.29.0' });
  assert.deepEqual(o.containers, []);
  assert.deepEqual(o.lock, { status: 'free' });
  assert.deepEqual(o.startedFiles, { web: sha('started') });
  assert.ok(o.disk && o.disk.availableBytes > 0);
  assert.deepEqual(o.warnings, []);
});
