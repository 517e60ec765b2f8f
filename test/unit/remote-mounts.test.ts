import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, statSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { prepareMountsCommand, parsePrepareOutput } from '../../src/remote/mounts.js';
import type { ResolvedMount } from '../../src/man8s/mounts.js';

const mount = (source: string, over: Partial<ResolvedMount> = {}): ResolvedMount => ({ type: 'data', target: '/x', source, owner: [0, 0], perm: '755', file: false, ...over });

function run(cmd: { argv: string[] }): string {
  const [bin, ...args] = cmd.argv;
  return execFileSync(bin!, args, { encoding: 'utf8' });
}

test('folders are created, owned and moded (not recursively); data inside is untouched', (t) => {
  const root = mkdtempSync(join(tmpdir(), 'man8s-mounts-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const existing = join(root, 'data', 'pg', 'var lib', 'data');
  mkdirSync(existing, { recursive: true });
  writeFileSync(join(existing, 'PG_VERSION'), '18\n');
  const fresh = join(root, 'socket', 'pg', 'run');
  const cmd = prepareMountsCommand([{ container: 'pg', mounts: [mount(existing, { owner: [999, 998], perm: '750' }), mount(fresh, { perm: '700' })] }])!;
  assert.equal(cmd.argv[0], 'sh');
  assert.deepEqual(parsePrepareOutput(run(cmd)), []);
  const st = statSync(existing);
  assert.deepEqual([st.uid, st.gid, st.mode & 0o7777], [999, 998, 0o750]);
  assert.equal(statSync(join(existing, 'PG_VERSION')).uid, process.getuid!());
  assert.equal(readFileSync(join(existing, 'PG_VERSION'), 'utf8'), '18\n');
  assert.equal(statSync(fresh).mode & 0o7777, 0o700);
});

test('file mounts are checked, never created; a file where a folder belongs fails; shared mounts are skipped', (t) => {
  const root = mkdtempSync(join(tmpdir(), 'man8s-mounts-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const present = join(root, 'conf', 'app.conf');
  mkdirSync(join(root, 'conf'));
  writeFileSync(present, 'x');
  symlinkSync(present, join(root, 'conf', 'link.conf'));
  const notAFolder = join(root, 'data');
  writeFileSync(notAFolder, 'i am a file');
  const cmd = prepareMountsCommand([
    { container: 'app', mounts: [mount(present, { file: true }), mount(join(root, 'missing.conf'), { file: true }), mount(join(root, 'conf', 'link.conf'), { file: true })] },
    { container: 'other app', mounts: [mount(notAFolder), mount(join(root, 'shared'), { sharedFrom: { container: 'app', target: '/x' } })] },
  ])!;
  const failures = parsePrepareOutput(run(cmd));
  assert.deepEqual(failures.map((f) => [f.container, f.source]), [
    ['app', join(root, 'missing.conf')],
    ['app', join(root, 'conf', 'link.conf')],
    ['other app', notAFolder],
  ]);
  assert.match(failures[0]!.reason, /missing or not a regular file/);
  assert.match(failures[2]!.reason, /exists and is not a folder/);
  assert.equal(readFileSync(notAFolder, 'utf8'), 'i am a file');
  assert.throws(() => statSync(join(root, 'missing.conf')));
  assert.throws(() => statSync(join(root, 'shared')));
});

test('nothing to prepare gives no command', () => {
  assert.equal(prepareMountsCommand([{ container: 'a', mounts: [mount('/s', { sharedFrom: { container: 'b', target: '/s' } })] }]), undefined);
});
