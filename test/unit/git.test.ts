import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openRepo, headCommit, uncommittedChanges, assertCommitted, changedSince, commitFiles, pushWithRetry } from '../../src/git/repo.js';
import { readDeployed, writeDeployed } from '../../src/git/deployed.js';
import { UserError } from '../../src/errors.js';
import { committedInputs } from '../../src/apply/deploy.js';

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, encoding: 'utf8', env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t' } });
}

function fleetRepo(): string {
  const dir = mkdtempSync(join(tmpdir(), 'man8s-git-'));
  git(dir, 'init', '-q', '-b', 'main');
  git(dir, 'config', 'user.email', 't@t');
  git(dir, 'config', 'user.name', 't');
  for (const host of ['relink', 'lothric']) {
    mkdirSync(join(dir, 'hosts', host, 'conf', 'web'), { recursive: true });
    writeFileSync(join(dir, 'hosts', host, 'host.yaml'), 'yggaddr: 200::1\n');
    writeFileSync(join(dir, 'hosts', host, 'conf', 'web', 'container.yaml'), 'image: busybox\n');
  }
  git(dir, 'add', '-A');
  git(dir, 'commit', '-qm', 'fleet');
  return dir;
}

test('uncommitted changes are listed and refused with the --allow-dirty hint', async (t) => {
  const dir = fleetRepo();
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const repo = await openRepo(dir);
  assert.deepEqual(await uncommittedChanges(repo, [join(dir, 'hosts')]), []);
  writeFileSync(join(dir, 'hosts', 'relink', 'conf', 'web', 'container.yaml'), 'image: busybox:2\n');
  writeFileSync(join(dir, 'hosts', 'relink', 'new file.txt'), 'x');
  writeFileSync(join(dir, 'outside.txt'), 'x');
  assert.deepEqual((await uncommittedChanges(repo, [join(dir, 'hosts')])).sort(), ['hosts/relink/conf/web/container.yaml', 'hosts/relink/new file.txt']);
  await assert.rejects(assertCommitted(repo, [join(dir, 'hosts')]), (err: unknown) => err instanceof UserError && /uncommitted changes \(hosts\/relink.*--allow-dirty/.test(err.message));
});

test('a deploy refuses uncommitted fleet settings (man8s.yaml) too, not only hosts/', async (t) => {
  const dir = fleetRepo();
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const repo = await openRepo(dir);
  const inputs = committedInputs({ root: join(dir, 'hosts'), repoRoot: dir });
  assert.deepEqual(inputs, [join(dir, 'hosts'), join(dir, 'man8s.yaml')]);
  await assertCommitted(repo, inputs); // no man8s.yaml at all is fine
  writeFileSync(join(dir, 'man8s.yaml'), 'defaults:\n  engine: docker\n');
  await assert.rejects(assertCommitted(repo, inputs), (err: unknown) => err instanceof UserError && /uncommitted changes \(man8s\.yaml\).*--allow-dirty/.test(err.message));
  git(dir, 'add', 'man8s.yaml');
  git(dir, 'commit', '-qm', 'settings');
  await assertCommitted(repo, inputs);
  writeFileSync(join(dir, 'man8s.yaml'), 'defaults:\n  engine: nerdctl\n');
  await assert.rejects(assertCommitted(repo, inputs), /uncommitted changes \(man8s\.yaml\)/);
  writeFileSync(join(dir, 'README.md'), 'notes are not fleet input\n');
  git(dir, 'checkout', 'man8s.yaml');
  await assertCommitted(repo, inputs);
});

test('changedSince lists the files changed below a path, and an unknown commit names the fix', async (t) => {
  const dir = fleetRepo();
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const repo = await openRepo(dir);
  const first = await headCommit(repo);
  writeFileSync(join(dir, 'hosts', 'lothric', 'conf', 'web', 'container.yaml'), 'image: busybox:2\n');
  git(dir, 'commit', '-qam', 'change lothric');
  assert.deepEqual(await changedSince(repo, first, [join(dir, 'hosts', 'lothric')]), ['hosts/lothric/conf/web/container.yaml']);
  assert.deepEqual(await changedSince(repo, first, [join(dir, 'hosts', 'relink')]), []);
  await assert.rejects(changedSince(repo, 'deadbeef'.repeat(5), [dir]), /not in this clone: fetch the full history/);
});

test('commitFiles commits only the named files and is a no-op when they did not change', async (t) => {
  const dir = fleetRepo();
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const repo = await openRepo(dir);
  const before = await headCommit(repo);
  writeFileSync(join(dir, 'hosts', 'relink', 'host.yaml'), 'yggaddr: 200::2\n');
  git(dir, 'add', 'hosts/relink/host.yaml'); // staged by the user: must not be swept into our commit
  const path = await writeDeployed(join(dir, 'hosts', 'relink'), {
    commit: before, deployed_at: '2026-12-03T20:00:00Z', deployed_by: 'ci@runner',
    containers: { web: { spec_hash: 'a', files_hash: 'b', image: 'busybox', result: 'created' } },
  });
  const sha = await commitFiles(repo, [path], 'deploy relink: created web\n\n[skip ci]');
  assert.ok(sha && sha !== before);
  assert.equal(git(dir, 'show', '--name-only', '--format=', 'HEAD').trim(), 'hosts/relink/deployed.yaml');
  assert.match(git(dir, 'log', '-1', '--format=%B'), /\[skip ci\]/);
  assert.deepEqual(await uncommittedChanges(repo, [join(dir, 'hosts', 'relink', 'host.yaml')]), ['hosts/relink/host.yaml']);
  assert.equal(await commitFiles(repo, [path], 'again'), null);
  const record = await readDeployed(join(dir, 'hosts', 'relink'));
  assert.equal(record?.commit, before);
  assert.equal(record?.containers.web?.result, 'created');
  assert.equal(await readDeployed(join(dir, 'hosts', 'lothric')), null);
});

test('pushWithRetry rebases onto a concurrent push and lands both commits', async (t) => {
  const origin = mkdtempSync(join(tmpdir(), 'man8s-origin-'));
  const a = fleetRepo();
  const b = mkdtempSync(join(tmpdir(), 'man8s-clone-'));
  t.after(() => [origin, a, b].forEach((d) => rmSync(d, { recursive: true, force: true })));
  git(origin, 'init', '-q', '--bare', '-b', 'main');
  git(a, 'remote', 'add', 'origin', origin);
  git(a, 'push', '-q', '-u', 'origin', 'main');
  git(b, 'clone', '-q', origin, '.');
  git(b, 'config', 'user.email', 't@t');
  git(b, 'config', 'user.name', 't');
  writeFileSync(join(b, 'hosts', 'lothric', 'deployed.yaml'), 'commit: x\n');
  git(b, 'add', '-A');
  git(b, 'commit', '-qm', 'other deploy');
  git(b, 'push', '-q');
  writeFileSync(join(a, 'hosts', 'relink', 'deployed.yaml'), 'commit: y\n');
  const repo = await openRepo(a);
  await commitFiles(repo, [join(a, 'hosts', 'relink', 'deployed.yaml')], 'deploy relink');
  await pushWithRetry(repo);
  const log = git(origin, 'log', '--format=%s', 'main').trim().split('\n');
  assert.deepEqual(log, ['deploy relink', 'other deploy', 'fleet']);
});

test('openRepo refuses a folder that is not a git repository', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'man8s-nogit-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  await assert.rejects(openRepo(dir), /is not a git repository/);
});
