import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  parseItemize,
  parseProgress2,
  parseStats,
  pushFilters,
  pushTreesArgv,
  remoteSpec,
  rshQuote,
  rsyncRsh,
  runRsync,
  unescapeRsyncName,
  mountFoldersInTrees,
  type RshHost,
} from '../../src/remote/rsync.js';
import { UserError } from '../../src/errors.js';

const host: RshHost = {
  alias: 'relink',
  port: 2222,
  user: 'root',
  identityFiles: ['/home/me/.ssh/id_ed25519', "/home/me/my keys/it's"],
  userKnownHostsFiles: ['/home/me/.ssh/known_hosts', '/home/me/with space/kh'],
  globalKnownHostsFiles: ['/etc/ssh/ssh_known_hosts'],
  configFile: '/tmp/sandbox/ssh_config',
  connectTimeout: 10,
};

test('rsh: every resolved setting, strict host keys, batch mode, quoted for rsync', () => {
  assert.equal(
    rsyncRsh(host),
    "ssh -F /tmp/sandbox/ssh_config -p 2222 -l root -i /home/me/.ssh/id_ed25519 -i '/home/me/my keys/it''s' " +
      `-o 'UserKnownHostsFile=/home/me/.ssh/known_hosts "/home/me/with space/kh"' -o GlobalKnownHostsFile=/etc/ssh/ssh_known_hosts ` +
      '-o StrictHostKeyChecking=yes -o BatchMode=yes -o ConnectTimeout=10 -o ServerAliveInterval=15 -o ServerAliveCountMax=3',
  );
  // The ssh config's own keepalive wins over the defaults, which only stop a dead link from hanging forever.
  assert.match(rsyncRsh({ ...host, serverAliveInterval: 5, serverAliveCountMax: 2 }), / -o ServerAliveInterval=5 -o ServerAliveCountMax=2$/);
  assert.equal(rshQuote(''), "''");
  assert.equal(rshQuote("a'b c"), "'a''b c'");
});

test('rsync itself splits the -e value back into the exact words', () => {
  const dir = mkdtempSync(join(tmpdir(), 'man8s-rsh-'));
  const fake = join(dir, 'fake ssh');
  // Prints its argv on stderr (stdout is rsync's protocol stream), then fails.
  writeFileSync(fake, '#!/bin/sh\nfor a; do printf "[%s]\\n" "$a" >&2; done\nexit 1\n');
  chmodSync(fake, 0o755);
  mkdirSync(join(dir, 'src'));
  const r = spawnSync('rsync', ['-r', '-e', rsyncRsh(host, { sshBinary: fake }), `${join(dir, 'src')}/`, remoteSpec(host, '/var/lib/man8s/')], {
    encoding: 'utf8',
  });
  const words = [...r.stderr.matchAll(/^\[(.*)\]$/gm)].map((m) => m[1]);
  assert.deepEqual(words.slice(0, 28), [
    '-F', '/tmp/sandbox/ssh_config', '-p', '2222', '-l', 'root', '-i', '/home/me/.ssh/id_ed25519', '-i', "/home/me/my keys/it's",
    '-o', 'UserKnownHostsFile=/home/me/.ssh/known_hosts "/home/me/with space/kh"', '-o', 'GlobalKnownHostsFile=/etc/ssh/ssh_known_hosts',
    '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=10',
    '-o', 'ServerAliveInterval=15', '-o', 'ServerAliveCountMax=3', 'relink', 'rsync', '--server', words[27],
  ]);
});

test('remote spec brackets IPv6 literals', () => {
  assert.equal(remoteSpec({ alias: 'relink' }, '/x/'), 'relink:/x/');
  assert.equal(remoteSpec({ alias: '200:7547::1' }, '/x/'), '[200:7547::1]:/x/');
});

test('push argv: only listed container folders, confined delete, backups, checksum, itemize, stats', () => {
  const argv = pushTreesArgv({
    host: { alias: 'relink', port: 22, user: 'root' },
    localDir: '/repo/hosts/relink/',
    storagePath: '/var/lib/man8s',
    trees: [
      { type: 'conf', name: 'web' },
      { type: 'conf', name: 'db' },
      { type: 'plugin', name: 'web' },
    ],
    backupDir: '/var/lib/man8s-state/backup/d1',
    protect: ['conf/db/etc/postgresql'],
    skeletonDir: '/tmp/man8s-skeleton-x/',
  });
  assert.deepEqual(argv, [
    'rsync', '--recursive', '--links', '--executability', '--checksum', '--delete', '--backup', '--backup-dir=/var/lib/man8s-state/backup/d1',
    '--timeout=120', '--itemize-changes', '--stats',
    '-e', 'ssh -p 22 -l root -o StrictHostKeyChecking=yes -o BatchMode=yes -o ServerAliveInterval=15 -o ServerAliveCountMax=3',
    '--filter=P /conf/db/etc/postgresql/***',
    '--filter=+ /conf/', '--filter=+ /conf/web/***', '--filter=+ /conf/db/***',
    '--filter=+ /plugin/', '--filter=+ /plugin/web/***',
    '--filter=- *',
    '/repo/hosts/relink/', '/tmp/man8s-skeleton-x/', 'relink:/var/lib/man8s/',
  ]);
  assert.ok(pushTreesArgv({ host: { alias: 'h', port: 22, user: 'root' }, localDir: '/r', storagePath: '/s', trees: [], backupDir: '/b', ioTimeoutSec: 7 }).includes('--timeout=7'));
  assert.throws(() => pushFilters([{ type: 'conf', name: '*' }]), /unsafe container name/);
  assert.throws(() => pushFilters([], ['conf/../data']), /\.\./);
});

test('mount folders inside the synced trees are what the skeleton keeps; files, other folders and other trees are not', () => {
  const m = (source: string, file = false) => ({ source, file });
  const folders = mountFoldersInTrees('/var/lib/man8s/', [
    m('/var/lib/man8s/conf/web/etc/nginx'),
    m('/var/lib/man8s/conf/web/etc/nginx/'),
    m('/var/lib/man8s/conf/web/etc/nginx.conf', true),
    m('/var/lib/man8s/plugin/web/bin'),
    m('/var/lib/man8s/data/web/data'),
    m('/var/lib/man8s/conf/other/etc'),
    m('/var/lib/man8s/conf/web'),
    m('/srv/elsewhere'),
  ], [{ type: 'conf', name: 'web' }, { type: 'plugin', name: 'web' }]);
  assert.deepEqual(folders, ['conf/web/etc/nginx', 'plugin/web/bin']);
});

test('itemize parser: created, content, attributes, deleted, symlinks, escaped names', () => {
  const out = [
    'cd+++++++++ conf/web/',
    '>f+++++++++ conf/web/new.conf',
    '>fcs....... conf/web/changed.conf',
    '.f...p..... conf/web/mode-only',
    'cL+++++++++ conf/web/sites-enabled/x -> ../sites-available/x',
    'cLc.T...... conf/web/link2 -> ../other',
    '*deleting   conf/web/old.conf',
    '*deleting   conf/web/olddir/',
    '>f+++++++++ conf/web/new\\#012line',
    '.d          ./',
    '',
    'Number of files: 3 (reg: 1, dir: 2)',
  ].join('\n');
  assert.deepEqual(parseItemize(out), [
    { path: 'conf/web', kind: 'dir', action: 'created', code: 'cd+++++++++' },
    { path: 'conf/web/new.conf', kind: 'file', action: 'created', code: '>f+++++++++' },
    { path: 'conf/web/changed.conf', kind: 'file', action: 'content', code: '>fcs.......' },
    { path: 'conf/web/mode-only', kind: 'file', action: 'attributes', code: '.f...p.....' },
    { path: 'conf/web/sites-enabled/x', kind: 'symlink', action: 'created', target: '../sites-available/x', code: 'cL+++++++++' },
    { path: 'conf/web/link2', kind: 'symlink', action: 'content', target: '../other', code: 'cLc.T......' },
    { path: 'conf/web/old.conf', kind: 'file', action: 'deleted', code: '*deleting' },
    { path: 'conf/web/olddir', kind: 'dir', action: 'deleted', code: '*deleting' },
    { path: 'conf/web/new\nline', kind: 'file', action: 'created', code: '>f+++++++++' },
  ]);
  assert.equal(unescapeRsyncName('caf\\#303\\#251'), 'café');
});

test('stats and progress2 parsers', () => {
  const stats = parseStats(
    [
      'Number of files: 1,203 (reg: 1,000, dir: 203)',
      'Number of created files: 2 (reg: 2)',
      'Number of deleted files: 1 (reg: 1)',
      'Number of regular files transferred: 3',
      'Total file size: 12,345,678 bytes',
      'Total transferred file size: 4,096 bytes',
      'Literal data: 100 bytes',
      'Matched data: 3,996 bytes',
      'Total bytes sent: 1,234',
      'Total bytes received: 56',
    ].join('\n'),
  );
  assert.deepEqual(stats, {
    files: 1203,
    createdFiles: 2,
    deletedFiles: 1,
    transferredFiles: 3,
    totalFileSize: 12345678,
    transferredFileSize: 4096,
    literalData: 100,
    matchedData: 3996,
    bytesSent: 1234,
    bytesReceived: 56,
  });
  assert.deepEqual(parseProgress2('      1,234,567  45%   12.34MB/s    0:00:10 (xfr#3, to-chk=0/10)'), {
    bytes: 1234567,
    percent: 45,
    rate: '12.34MB/s',
    eta: '0:00:10',
  });
  assert.equal(parseProgress2('sending incremental file list'), undefined);
});

test('runRsync: local copy with progress; failures become a UserError naming the host', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'man8s-runrsync-'));
  mkdirSync(join(dir, 'a'));
  writeFileSync(join(dir, 'a', 'f'), 'x'.repeat(100_000));
  const seen: number[] = [];
  const r = await runRsync(['rsync', '-a', '--info=progress2', '--stats', '--itemize-changes', `${join(dir, 'a')}/`, `${join(dir, 'b')}/`], {
    label: 'local',
    onProgress: (p) => seen.push(p.percent),
  });
  assert.equal(r.code, 0);
  assert.ok(seen.includes(100), `progress seen: ${seen.join(',')}`);
  assert.equal(r.stats.transferredFiles, 1);
  assert.ok(r.items.some((i) => i.path === 'f' && i.action === 'created'));
  await assert.rejects(runRsync(['rsync', '-a', join(dir, 'missing/'), join(dir, 'c/')], { label: 'relink' }), (e: Error) => {
    assert.ok(e instanceof UserError);
    assert.match(e.message, /^relink: rsync failed \(exit 23: partial transfer/);
    return true;
  });
  await assert.rejects(runRsync(['rsync'], { label: 'relink', rsyncBinary: join(dir, 'nope') }), /relink: rsync is not installed/);
});
