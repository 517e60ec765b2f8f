import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, symlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { catFilesCommand, parseCatOutput } from '../../src/remote/cat.js';

test('reads files in order, with exact bytes; too-big, missing and symlinked files are named', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'man8s-cat-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const a = join(dir, 'a file.conf');
  const b = join(dir, 'b');
  const big = join(dir, 'big');
  writeFileSync(a, 'line 1\nno newline at end');
  writeFileSync(b, Buffer.from([0, 1, 2, 10, 70, 32, 57, 10]));
  writeFileSync(big, 'x'.repeat(100));
  symlinkSync(a, join(dir, 'link'));
  const paths = [a, join(dir, 'missing'), b, big, join(dir, 'link'), a];
  const cmd = catFilesCommand(paths, 50);
  const out = execFileSync(cmd.argv[0]!, cmd.argv.slice(1));
  const files = parseCatOutput(out, paths);
  assert.deepEqual(files.get(a), { kind: 'file', content: Buffer.from('line 1\nno newline at end') });
  assert.deepEqual(files.get(b), { kind: 'file', content: Buffer.from([0, 1, 2, 10, 70, 32, 57, 10]) });
  assert.deepEqual(files.get(big), { kind: 'too-big', size: 100 });
  assert.deepEqual(files.get(join(dir, 'missing')), { kind: 'missing' });
  assert.deepEqual(files.get(join(dir, 'link')), { kind: 'missing' });
});
