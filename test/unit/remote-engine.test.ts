import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  composeApplyCommand,
  composeRollbackCommand,
  composeUpArgv,
  engineCli,
  engineTarget,
  execArgv,
  imageIdArgv,
  inspectArgv,
  listManagedArgv,
  logsArgv,
  pullArgv,
  removeArgv,
  restartArgv,
  startArgv,
  stopArgv,
  composePullArgv,
  startContainersCommand,
  type EngineTarget,
} from '../../src/remote/engine.js';
import { hostPaths } from '../../src/remote/paths.js';
import { quoteArgv } from '../../src/remote/quote.js';

const nerd = engineTarget({ engine: 'nerdctl', nerdconfig: { namespace: 'man8s.io', snapshotter: 'btrfs' } });
const v2 = engineTarget({ engine: 'docker', nerdconfig: { namespace: 'man8s.io', snapshotter: 'btrfs' } });
const v1 = engineTarget({ engine: 'docker', nerdconfig: { namespace: 'man8s.io', snapshotter: 'btrfs' } }, 'docker-compose-v1');
const N = ['nerdctl', '--namespace', 'man8s.io', '--snapshotter', 'btrfs'];
const F = '/var/lib/man8s-state/compose/web/compose.yaml';

test('engine targets: nerdctl always uses its own compose; docker defaults to v2', () => {
  assert.equal(nerd.compose, 'nerdctl');
  assert.equal(v2.compose, 'docker-compose-v2');
  assert.equal(v1.compose, 'docker-compose-v1');
  assert.deepEqual(engineCli(nerd), N);
  assert.deepEqual(engineCli(v2), ['docker']);
});

test('compose up for each flavor', () => {
  assert.deepEqual(composeUpArgv(nerd, F, 'web'), [...N, 'compose', '-f', F, '-p', 'web', 'up', '-d']);
  assert.deepEqual(composeUpArgv(nerd, F, 'web', { noDeps: true, services: ['web'] }), [...N, 'compose', '-f', F, '-p', 'web', 'up', '-d', 'web']);
  assert.throws(() => composeUpArgv(nerd, F, 'web', { forceRecreate: true }), /no --force-recreate/);
  assert.deepEqual(composeUpArgv(v2, F, 'web', { forceRecreate: true, noDeps: true, services: ['web'] }), [
    'docker', 'compose', '-f', F, '-p', 'web', 'up', '-d', '--force-recreate', '--no-deps', 'web',
  ]);
  assert.deepEqual(composeUpArgv(v1, F, 'web', { forceRecreate: true, removeOrphans: true }), [
    'docker-compose', '-f', F, '-p', 'web', 'up', '-d', '--force-recreate', '--remove-orphans',
  ]);
  assert.deepEqual(composePullArgv(v1, F, 'web'), ['docker-compose', '-f', F, '-p', 'web', 'pull']);
  assert.deepEqual(composePullArgv(nerd, F, 'web', ['web']), [...N, 'compose', '-f', F, '-p', 'web', 'pull', 'web']);
});

test('container commands for both engines', () => {
  const cases: Array<[EngineTarget, string[]]> = [
    [nerd, N],
    [v2, ['docker']],
    [v1, ['docker']],
  ];
  for (const [t, cli] of cases) {
    assert.deepEqual(restartArgv(t, ['a', 'b']), [...cli, 'restart', 'a', 'b']);
    assert.deepEqual(restartArgv(t, ['a'], 5), [...cli, 'restart', '-t', '5', 'a']);
    assert.deepEqual(stopArgv(t, ['a'], 20), [...cli, 'stop', '-t', '20', 'a']);
    assert.deepEqual(startArgv(t, ['a']), [...cli, 'start', 'a']);
    assert.deepEqual(removeArgv(t, ['a']), [...cli, 'rm', '-f', 'a']);
    assert.deepEqual(pullArgv(t, 'busybox:latest'), [...cli, 'pull', 'busybox:latest']);
    assert.deepEqual(listManagedArgv(t), [...cli, 'ps', '-a', '--no-trunc', '--filter', 'label=io.man8s.managed=true', '--format', '{{json .}}']);
    assert.deepEqual(inspectArgv(t, ['a', 'b']), [...cli, 'inspect', 'a', 'b']);
    assert.deepEqual(imageIdArgv(t, 'nginx'), [...cli, 'image', 'inspect', '--format', '{{.Id}}', 'nginx']);
    assert.deepEqual(logsArgv(t, 'a', { follow: true, tail: 100, since: '10m', timestamps: true }), [
      ...cli, 'logs', '--follow', '--tail', '100', '--since', '10m', '--timestamps', 'a',
    ]);
    assert.deepEqual(logsArgv(t, 'a'), [...cli, 'logs', 'a']);
    assert.deepEqual(execArgv(t, 'a', ['sh', '-c', 'id'], { interactive: true, tty: true, user: '0:0', workdir: '/', env: { A: 'b c' } }), [
      ...cli, 'exec', '-i', '-t', '-u', '0:0', '-w', '/', '-e', 'A=b c', 'a', 'sh', '-c', 'id',
    ]);
  }
  assert.throws(() => execArgv(v2, 'a', []), /empty command/);
});

/** Runs a RemoteCommand locally, with fake engine programs on PATH that log their argv. */
function runLocally(cmd: { argv: string[]; stdin?: string | Buffer }, bin: string): { code: number; out: string } {
  try {
    const out = execFileSync('sh', ['-c', quoteArgv(cmd.argv)], {
      input: cmd.stdin ?? '',
      env: { ...process.env, PATH: `${bin}:${process.env.PATH}` },
      encoding: 'utf8',
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    return { code: 0, out };
  } catch (e) {
    return { code: (e as { status: number }).status, out: String((e as { stdout: string }).stdout) };
  }
}

function fakeBin(existing: boolean): { bin: string; log: string } {
  const bin = mkdtempSync(join(tmpdir(), 'man8s-fakebin-'));
  const log = join(bin, 'log');
  for (const prog of ['docker', 'docker-compose', 'nerdctl']) {
    const p = join(bin, prog);
    writeFileSync(
      p,
      `#!/bin/sh\necho "${prog} $*" >>${log}\ncase "$*" in *inspect*) exit ${existing ? 0 : 1};; esac\nexit 0\n`,
    );
    chmodSync(p, 0o755);
  }
  return { bin, log };
}

test('compose apply writes the file from stdin, keeps the previous version, recreates and ups in one command', () => {
  const root = mkdtempSync(join(tmpdir(), 'man8s-apply-'));
  const paths = hostPaths(join(root, 'man8s'));
  const { bin, log } = fakeBin(true);
  const first = composeApplyCommand({ target: nerd, paths, name: 'web', yaml: 'services: {v: 1}\n', recreate: true, pull: true });
  assert.equal(first.argv[0], 'sh');
  assert.deepEqual(first.argv.slice(3), ['man8s-compose', paths.compose('web'), paths.composePrevious('web')]);
  assert.equal(runLocally(first, bin).code, 0);
  assert.equal(readFileSync(paths.compose('web'), 'utf8'), 'services: {v: 1}\n');
  assert.equal(existsSync(paths.composePrevious('web')), false, 'nothing to keep on the first write');
  const file = paths.compose('web');
  assert.deepEqual(readFileSync(log, 'utf8').trim().split('\n'), [
    `nerdctl --namespace man8s.io --snapshotter btrfs compose -f ${file} -p web pull`,
    'nerdctl --namespace man8s.io --snapshotter btrfs inspect web',
    'nerdctl --namespace man8s.io --snapshotter btrfs rm -f web',
    `nerdctl --namespace man8s.io --snapshotter btrfs compose -f ${file} -p web up -d`,
  ]);

  const second = composeApplyCommand({ target: v1, paths, name: 'web', yaml: 'services: {v: 2}\n' });
  assert.equal(runLocally(second, bin).code, 0);
  assert.equal(readFileSync(paths.compose('web'), 'utf8'), 'services: {v: 2}\n');
  assert.equal(readFileSync(paths.composePrevious('web'), 'utf8'), 'services: {v: 1}\n');
  assert.match(readFileSync(log, 'utf8').trim().split('\n').pop()!, new RegExp(`^docker-compose -f ${file} -p web up -d --no-deps$`));

  // Same content again (a recreate for a pulled image): previous is what ran just before, so a failed
  // recreate rolls back to v2, not to the older v1.
  assert.equal(runLocally(composeApplyCommand({ target: v2, paths, name: 'web', yaml: 'services: {v: 2}\n', recreate: true }), bin).code, 0);
  assert.equal(readFileSync(paths.composePrevious('web'), 'utf8'), 'services: {v: 2}\n');

  const back = composeRollbackCommand({ target: v2, paths, name: 'web' });
  assert.equal(runLocally(back, bin).code, 0);
  assert.equal(readFileSync(paths.compose('web'), 'utf8'), 'services: {v: 2}\n');
  assert.match(readFileSync(log, 'utf8').trim().split('\n').pop()!, /^docker compose -f .* -p web up -d --no-deps$/);
});

test('what a container was started with is recorded only after it started: apply, rollback, restart, start', () => {
  const root = mkdtempSync(join(tmpdir(), 'man8s-started-'));
  const paths = hostPaths(join(root, 'man8s'));
  const { bin, log } = fakeBin(true);
  const started = (name: string) => (existsSync(paths.startedFiles(name)) ? readFileSync(paths.startedFiles(name), 'utf8') : null);
  assert.equal(paths.startedFiles('web'), join(root, 'man8s-state', 'compose', 'web', 'started-files-hash'));
  assert.equal(runLocally(composeApplyCommand({ target: v2, paths, name: 'web', yaml: 'v: 1\n', filesHash: 'h1' }), bin).code, 0);
  assert.equal(started('web'), 'h1\n');
  assert.equal(runLocally(composeApplyCommand({ target: v2, paths, name: 'web', yaml: 'v: 2\n', filesHash: 'h2' }), bin).code, 0);
  assert.equal(runLocally(composeRollbackCommand({ target: v2, paths, name: 'web', filesHash: 'h1' }), bin).code, 0);
  assert.equal(started('web'), 'h1\n', 'the rollback runs the old files again');

  const restart = startContainersCommand({ target: nerd, paths, action: 'restart', containers: [{ name: 'web', filesHash: 'h3' }, { name: 'db', filesHash: "it's" }] });
  assert.equal(runLocally(restart, bin).code, 0);
  assert.equal(readFileSync(log, 'utf8').trim().split('\n').pop(), 'nerdctl --namespace man8s.io --snapshotter btrfs restart web db');
  assert.equal(started('web'), 'h3\n');
  assert.equal(started('db'), "it's\n");
  assert.equal(runLocally(startContainersCommand({ target: v2, paths, action: 'start', containers: [{ name: 'app', filesHash: 'h4' }] }), bin).code, 0);
  assert.equal(readFileSync(log, 'utf8').trim().split('\n').pop(), 'docker start app');
  assert.equal(started('app'), 'h4\n');

  // A failing engine command records nothing.
  const failing = mkdtempSync(join(tmpdir(), 'man8s-failbin-'));
  writeFileSync(join(failing, 'docker'), '#!/bin/sh\nexit 1\n');
  chmodSync(join(failing, 'docker'), 0o755);
  assert.notEqual(runLocally(startContainersCommand({ target: v2, paths, action: 'restart', containers: [{ name: 'web', filesHash: 'h5' }] }), failing).code, 0);
  assert.notEqual(runLocally(composeApplyCommand({ target: v2, paths, name: 'web', yaml: 'v: 3\n', filesHash: 'h5' }), failing).code, 0);
  assert.equal(started('web'), 'h3\n');
  assert.throws(() => startContainersCommand({ target: v2, paths, action: 'start', containers: [] }), /no containers/);
});

test('recreate skips rm when the container does not exist; rollback without a previous file exits 3', () => {
  const root = mkdtempSync(join(tmpdir(), 'man8s-apply-'));
  const paths = hostPaths(join(root, 'man8s'));
  const { bin, log } = fakeBin(false);
  assert.equal(runLocally(composeApplyCommand({ target: v2, paths, name: 'db', yaml: 'x: 1\n', recreate: true }), bin).code, 0);
  assert.doesNotMatch(readFileSync(log, 'utf8'), /rm -f/);
  assert.equal(runLocally(composeRollbackCommand({ target: v2, paths, name: 'other' }), bin).code, 3);
  assert.throws(() => composeApplyCommand({ target: v2, paths, name: '../x', yaml: '' }), /unsafe container name/);
});

test('host paths: state lives beside storage_path, never inside it', () => {
  const p = hostPaths('/var/lib/man8s/');
  assert.equal(p.storage, '/var/lib/man8s');
  assert.equal(p.state, '/var/lib/man8s-state');
  assert.equal(p.compose('web'), '/var/lib/man8s-state/compose/web/compose.yaml');
  assert.equal(p.composePrevious('web'), '/var/lib/man8s-state/compose/web/compose.previous.yaml');
  assert.equal(p.backup('20240101T000000Z-abc'), '/var/lib/man8s-state/backup/20240101T000000Z-abc');
  assert.equal(p.lock, '/run/lock/man8s');
  assert.throws(() => hostPaths('relative'), /absolute/);
  assert.throws(() => hostPaths('/'), /absolute/);
});
