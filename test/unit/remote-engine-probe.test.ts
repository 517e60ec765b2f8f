/**
 * The docker-compose v1 version cache of the engine probe, run by a real sh against a stand-in
 * docker-compose that counts how often it is asked.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ENGINE_SH } from '../../src/remote/engine-probe.js';

function fixture(version: string) {
  const dir = mkdtempSync(join(tmpdir(), 'man8s-probe-'));
  const bin = join(dir, 'bin');
  execFileSync('mkdir', ['-p', bin]);
  const tool = join(bin, 'docker-compose');
  const calls = join(dir, 'calls');
  const write = (v: string) => {
    writeFileSync(tool, `#!/bin/sh\necho x >> '${calls}'\n[ "$1 $2" = "version --short" ] && echo ${v}\n`);
    chmodSync(tool, 0o755);
  };
  write(version);
  const probe = (cache: string | undefined) =>
    execFileSync('sh', ['-c', `${ENGINE_SH}\ncompose_v1_version`], {
      encoding: 'utf8',
      env: { PATH: `${bin}:/usr/bin:/bin`, ...(cache !== undefined ? { COMPOSE_CACHE: cache } : {}) },
    }).trim();
  const count = () => (existsSync(calls) ? readFileSync(calls, 'utf8').split('\n').filter(Boolean).length : 0);
  return { dir, tool, write, probe, count, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

test('docker-compose v1 is asked once; later probes read the cached version', () => {
  const f = fixture('1.29.2');
  try {
    const cache = join(f.dir, 'state', 'cache', 'compose-version');
    assert.equal(f.probe(cache), '1.29.2');
    assert.equal(f.count(), 1);
    assert.equal(f.probe(cache), '1.29.2');
    assert.equal(f.probe(cache), '1.29.2');
    assert.equal(f.count(), 1, 'cached: docker-compose not run again');
  } finally {
    f.cleanup();
  }
});

test('a changed docker-compose binary (an upgrade) is asked again', () => {
  const f = fixture('1.29.2');
  try {
    const cache = join(f.dir, 'compose-version');
    assert.equal(f.probe(cache), '1.29.2');
    f.write('1.29.3-upgraded');
    // The new file may land in the same second with the same size: move its mtime to be sure the key changes.
    utimesSync(f.tool, new Date(), new Date(Date.now() + 5000));
    assert.equal(f.probe(cache), '1.29.3-upgraded');
    assert.equal(f.count(), 2);
  } finally {
    f.cleanup();
  }
});

test('without COMPOSE_CACHE (doctor) every probe asks docker-compose itself', () => {
  const f = fixture('1.29.2');
  try {
    assert.equal(f.probe(undefined), '1.29.2');
    assert.equal(f.probe(undefined), '1.29.2');
    assert.equal(f.count(), 2);
  } finally {
    f.cleanup();
  }
});
