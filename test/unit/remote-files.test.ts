import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, existsSync, rmSync, symlinkSync, readlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { restoreFilesCommand, parseRestoreOutput, setAsideFoldersCommand } from '../../src/remote/files.js';

const run = (argv: string[]) => execFileSync(argv[0]!, argv.slice(1), { encoding: 'utf8' });

test('restore undoes a sync: added entries removed, changed and removed ones put back from the backup', (t) => {
  const root = mkdtempSync(join(tmpdir(), 'man8s-restore-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const storage = join(root, 'man8s');
  const backup = join(root, 'backup');
  // The host after the sync: nginx.conf changed, old.conf deleted, sites/new.conf + sites/ added, link re-pointed.
  mkdirSync(join(storage, 'conf/web/etc/sites'), { recursive: true });
  mkdirSync(join(storage, 'data/web'), { recursive: true });
  writeFileSync(join(storage, 'data/web/db'), 'precious');
  writeFileSync(join(storage, 'conf/web/etc/nginx.conf'), 'new');
  writeFileSync(join(storage, 'conf/web/etc/sites/new.conf'), 'new site');
  symlinkSync('nginx.conf', join(storage, 'conf/web/etc/link'));
  mkdirSync(join(backup, 'conf/web/etc'), { recursive: true });
  writeFileSync(join(backup, 'conf/web/etc/nginx.conf'), 'old');
  writeFileSync(join(backup, 'conf/web/etc/old.conf'), 'gone');
  symlinkSync('old.conf', join(backup, 'conf/web/etc/link'));
  const cmd = restoreFilesCommand({
    storage, backupDir: backup, name: 'web',
    changes: [
      { type: 'conf', path: 'etc/nginx.conf', change: 'changed', kind: 'file' },
      { type: 'conf', path: 'etc/old.conf', change: 'removed', kind: 'file' },
      { type: 'conf', path: 'etc/sites', change: 'added', kind: 'dir' },
      { type: 'conf', path: 'etc/sites/new.conf', change: 'added', kind: 'file' },
      { type: 'conf', path: 'etc/link', change: 'changed', kind: 'symlink' },
      { type: 'conf', path: 'etc/never-backed-up', change: 'changed', kind: 'file' },
    ],
  });
  assert.deepEqual(parseRestoreOutput(run(cmd.argv)), ['conf/web/etc/never-backed-up']);
  assert.equal(readFileSync(join(storage, 'conf/web/etc/nginx.conf'), 'utf8'), 'old');
  assert.equal(readFileSync(join(storage, 'conf/web/etc/old.conf'), 'utf8'), 'gone');
  assert.equal(existsSync(join(storage, 'conf/web/etc/sites')), false);
  assert.equal(readlinkSync(join(storage, 'conf/web/etc/link')), 'old.conf');
  assert.equal(readFileSync(join(storage, 'data/web/db'), 'utf8'), 'precious');
});

test('set-aside moves container folders into the backup, leaving everything else', (t) => {
  const root = mkdtempSync(join(tmpdir(), 'man8s-aside-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const storage = join(root, 'man8s');
  mkdirSync(join(storage, 'conf/old/etc'), { recursive: true });
  writeFileSync(join(storage, 'conf/old/etc/x'), 'x');
  mkdirSync(join(storage, 'data/old'), { recursive: true });
  const cmd = setAsideFoldersCommand({ storage, backupDir: join(root, 'b'), folders: [{ type: 'conf', name: 'old' }, { type: 'plugin', name: 'old' }] });
  run(cmd.argv);
  assert.equal(existsSync(join(storage, 'conf/old')), false);
  assert.equal(readFileSync(join(root, 'b/conf/old/etc/x'), 'utf8'), 'x');
  assert.equal(existsSync(join(storage, 'data/old')), true);
});
