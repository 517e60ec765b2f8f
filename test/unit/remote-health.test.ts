import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, chmodSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitRunningCommand, parseWaitOutput } from '../../src/remote/health.js';
import type { EngineTarget } from '../../src/remote/engine.js';

const docker: EngineTarget = { engine: 'docker', namespace: 'man8s.io', snapshotter: 'overlayfs', compose: 'docker-compose-v1' };
const opts = { timeoutSec: 3, settleSec: 1 };

test('the verdict: up and stable, crash loop, exited with code, unhealthy, missing', () => {
  const out = [
    'BEFORE',
    'web|running|2026-12-03T10:00:00Z|0|0||sha256:w',
    'loop|running|2026-12-03T10:00:01Z|3|1||sha256:l',
    'db|running|2026-12-03T10:00:00Z|0|0|starting|sha256:d',
    'bad|running|2026-12-03T10:00:00Z|0|0||sha256:b',
    'AFTER',
    'web|running|2026-12-03T10:00:00Z|0|0||sha256:w',
    'loop|running|2026-12-03T10:00:02Z|4|1||sha256:l',
    'db|running|2026-12-03T10:00:00Z|0|0|healthy|sha256:d',
    'bad|exited|2026-12-03T10:00:00Z|0|2||sha256:b',
    'sick|running|2026-12-03T10:00:00Z|0|0|unhealthy|sha256:s',
  ].join('\n');
  const v = parseWaitOutput(out, ['web', 'loop', 'db', 'bad', 'sick', 'gone'], opts);
  assert.deepEqual(v[0], { name: 'web', ok: true, healthy: false, imageId: 'sha256:w' });
  assert.equal(v[1]!.ok, false);
  assert.match((v[1] as { reason: string }).reason, /crash loop; see man8s logs loop/);
  assert.deepEqual(v[2], { name: 'db', ok: true, healthy: true, imageId: 'sha256:d' });
  assert.deepEqual(v[3], { name: 'bad', ok: false, reason: 'exited with code 2' });
  assert.deepEqual(v[4], { name: 'sick', ok: false, reason: 'not running within 3s' });
  assert.deepEqual(v[5], { name: 'gone', ok: false, reason: 'container not found after compose up' });
});

test('the host-side script polls the engine, settles, and prints both snapshots', (t) => {
  // A stand-in `docker` on PATH whose container "flap" restarts on every inspect: the crash-loop case.
  const bin = mkdtempSync(join(tmpdir(), 'man8s-fake-engine-'));
  t.after(() => rmSync(bin, { recursive: true, force: true }));
  const counter = join(bin, 'n');
  writeFileSync(counter, '0');
  writeFileSync(
    join(bin, 'docker'),
    `#!/bin/sh
n=$(cat ${counter}); n=$((n+1)); echo $n > ${counter}
[ "$1" = inspect ] && [ "$2" = --format ] || exit 9
shift 3
for c; do
  case $c in
    steady) echo "/steady|running|T0|0|0|sha256:s1|{\\"Status\\":\\"running\\",\\"Health\\":{\\"Status\\":\\"healthy\\"}}";;
    flap) echo "/flap|running|T$n|$n|1|sha256:f1|{\\"Status\\":\\"running\\"}";;
  esac
done
`,
  );
  chmodSync(join(bin, 'docker'), 0o755);
  const cmd = waitRunningCommand(docker, ['steady', 'flap'], opts);
  const [sh, ...args] = cmd.argv;
  const out = execFileSync(sh!, args, { encoding: 'utf8', env: { ...process.env, PATH: `${bin}:${process.env.PATH}` } });
  const v = parseWaitOutput(out, ['steady', 'flap'], opts);
  assert.deepEqual(v[0], { name: 'steady', ok: true, healthy: true, imageId: 'sha256:s1' });
  assert.equal(v[1]!.ok, false);
});
