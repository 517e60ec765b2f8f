import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { MISS, openParseCache, repoCacheDir } from '../../src/fleet/parse-cache.js';
import { loadFleetSync } from '../../src/fleet/load.js';
import { formatDiagnostic } from '../../src/fleet/model.js';
import { APP_FILE, HOST_FILE, HOST_YAML, makeRepo } from '../support/fleet-fixture.js';

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'man8s-cache-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('a stored text comes back as its data; another text or another yaml version misses', (t) => {
  const dir = tempDir(t);
  const first = openParseCache(dir, '/fleet', '2.9.1');
  assert.equal(first.get('image: a\n'), MISS);
  first.set('image: a\n', { image: 'a' });
  first.save();
  const second = openParseCache(dir, '/fleet', '2.9.1');
  assert.deepEqual(second.get('image: a\n'), { image: 'a' });
  assert.equal(second.get('image: b\n'), MISS);
  assert.equal(openParseCache(dir, '/fleet', '2.10.0').get('image: a\n'), MISS);
  assert.equal(openParseCache(dir, '/other-fleet', '2.9.1').get('image: a\n'), MISS);
});

test('only the entries a run used are kept, and values JSON cannot carry are never stored', (t) => {
  const dir = tempDir(t);
  const a = openParseCache(dir, '/fleet', 'v');
  a.set('a: 1\n', { a: 1 });
  a.set('b: 1\n', { b: 1 });
  a.set('c: .inf\n', { c: Infinity });
  a.save();
  const b = openParseCache(dir, '/fleet', 'v');
  assert.equal(b.get('c: .inf\n'), MISS);
  assert.deepEqual(b.get('a: 1\n'), { a: 1 });
  b.save();
  const c = openParseCache(dir, '/fleet', 'v');
  assert.equal(c.get('b: 1\n'), MISS);
  assert.deepEqual(c.get('a: 1\n'), { a: 1 });
});

test('a corrupt cache file is ignored', (t) => {
  const dir = tempDir(t);
  const cache = openParseCache(dir, '/fleet', 'v');
  cache.set('a: 1\n', { a: 1 });
  cache.save();
  const file = readdirSync(dir).find((f) => f.endsWith('.json'));
  writeFileSync(join(dir, file!), '{"stamp": "1/v", "entr');
  assert.equal(openParseCache(dir, '/fleet', 'v').get('a: 1\n'), MISS);
});

test('the cache lives in <repo>/.man8s/cache of a git work tree, ignored by git; never outside git', (t) => {
  const plain = makeRepo(t, { [HOST_FILE]: HOST_YAML });
  assert.equal(repoCacheDir(plain, {}), undefined);
  loadFleetSync({ cwd: plain, cache: true });
  assert.equal(existsSync(join(plain, '.man8s')), false);
  const git = makeRepo(t, { [HOST_FILE]: HOST_YAML, '.git': { dir: true } });
  assert.equal(repoCacheDir(git, {}), join(git, '.man8s/cache'));
  assert.equal(repoCacheDir(git, { MAN8S_NO_CACHE: '1' }), undefined);
  loadFleetSync({ cwd: git, cache: true });
  assert.equal(readFileSync(join(git, '.man8s/cache/.gitignore'), 'utf8'), '# man8s parse cache: never commit\n*\n');
  assert.equal(readdirSync(join(git, '.man8s/cache')).filter((f) => f.endsWith('.json')).length, 1);
});

test('a cached load equals an uncached one, positions of later errors included', (t) => {
  const yaml = 'image: nginx\nmount:\n  conf:\n    /etc/nginx/nginx.conf: {file: true}\n';
  const dir = makeRepo(t, { [HOST_FILE]: HOST_YAML, [APP_FILE]: yaml, 'hosts/relink/conf/bad/container.yaml': 'image: [\n' });
  const cacheDir = tempDir(t);
  const plain = loadFleetSync({ cwd: dir });
  const priming = loadFleetSync({ cwd: dir, cacheDir });
  const cached = loadFleetSync({ cwd: dir, cacheDir });
  const stored = JSON.parse(readFileSync(join(cacheDir, readdirSync(cacheDir).find((f) => f.endsWith('.json'))!), 'utf8'));
  // host.yaml and app's container.yaml parsed cleanly; bad's never is stored.
  assert.equal(Object.keys(stored.entries).length, 2);
  for (const result of [priming, cached]) {
    assert.deepEqual(result.diagnostics, plain.diagnostics);
    const app = result.fleet.hosts.get('relink')!.containers.get('app')!;
    assert.deepEqual(app.config, plain.fleet.hosts.get('relink')!.containers.get('app')!.config);
    assert.deepEqual(app.at(['mount', 'conf', '/etc/nginx/nginx.conf', 'file']), { line: 4, col: 35 });
  }
  assert.deepEqual(cached.diagnostics.map(formatDiagnostic), [
    `${APP_FILE}:4:35: mount conf /etc/nginx/nginx.conf has file: true but conf/app/etc/nginx/nginx.conf is not in the repo; add the file (a file mount is never created)`,
    'hosts/relink/conf/bad/container.yaml:2:1: YAML syntax: Flow sequence in block collection must be sufficiently indented and end with a ]',
  ]);
});
