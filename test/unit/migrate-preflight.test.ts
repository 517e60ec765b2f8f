/**
 * Checks a migration makes before anything changes that need no host (localPreflight on a real git repo),
 * the engine's mount listing that protects custom sources, and which deployed.yaml files a move commits.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { UserError } from '../../src/errors.js';
import { openRepo } from '../../src/git/repo.js';
import { localPreflight } from '../../src/migrate/preflight.js';
import { mountListCommand, mountUsers, parseMountList } from '../../src/migrate/host-mounts.js';
import { migrationDeployedFiles } from '../../src/migrate/git-move.js';
import { HOST_YAML, OTHER_HOST_YAML, loadRepo, makeRepo } from '../support/fleet-fixture.js';

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, encoding: 'utf8', env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t' } });
}

/** A fixture fleet, committed: the migration moves folders with git mv and refuses uncommitted ones. */
function committedRepo(t: TestContext, files: Record<string, string>): string {
  const dir = makeRepo(t, files);
  git(dir, 'init', '-q', '-b', 'main');
  git(dir, 'add', '-A');
  git(dir, 'commit', '-qm', 'fleet');
  return dir;
}

const options = { name: 'app', from: 'relink', to: 'lothric', withDeps: false, force: false, viaLocal: false };

describe('local preflight', () => {
  it('refuses a plugin folder of that name already on the target in git, before any downtime', async (t) => {
    const dir = committedRepo(t, {
      'hosts/relink/host.yaml': HOST_YAML,
      'hosts/relink/conf/app/container.yaml': 'image: busybox\n',
      'hosts/relink/plugin/app/init.sh': 'echo from relink\n',
      'hosts/lothric/host.yaml': OTHER_HOST_YAML,
      'hosts/lothric/plugin/app/old.sh': 'echo stale\n',
    });
    const fleet = loadRepo(dir).fleet!;
    const repo = await openRepo(dir);
    await assert.rejects(
      localPreflight(fleet, repo, options),
      (err: unknown) =>
        err instanceof UserError &&
        err.message ===
          "hosts/lothric/plugin/app already exists in the work tree, and the migration moves app's conf and plugin folders there (git mv); remove or rename it first (git rm -r or git mv, then commit)",
    );
    // Without it the same fleet passes.
    git(dir, 'rm', '-rq', 'hosts/lothric/plugin/app');
    git(dir, 'commit', '-qm', 'drop the stale plugin folder');
    const ok = await localPreflight(loadRepo(dir).fleet!, repo, options);
    assert.deepEqual(ok.plan.group, ['app']);
  });

  it('refuses it also when the source has no plugin folder: it would become the moved container\'s', async (t) => {
    const dir = committedRepo(t, {
      'hosts/relink/host.yaml': HOST_YAML,
      'hosts/relink/conf/app/container.yaml': 'image: busybox\n',
      'hosts/lothric/host.yaml': OTHER_HOST_YAML,
      'hosts/lothric/plugin/app/old.sh': 'echo stale\n',
    });
    await assert.rejects(localPreflight(loadRepo(dir).fleet!, await openRepo(dir), options), /hosts\/lothric\/plugin\/app already exists in the work tree/);
  });
});

describe('who mounts a custom source', () => {
  it('lists every container with its mount sources in one engine command', () => {
    const cmd = mountListCommand(['docker']);
    assert.deepEqual(cmd.argv.slice(0, 1), ['sh']);
    assert.deepEqual(cmd.argv.slice(3), ['man8s-mounts', 'docker']);
    assert.match(cmd.argv[2]!, /"\$@" inspect --format '\{\{\.Name\}\}\{\{range \.Mounts\}\}\{\{"\\t"\}\}\{\{\.Source\}\}\{\{end\}\}' \$ids/);
  });

  it('finds users of the path, of a folder inside it, or of one around it; not of a neighbour', () => {
    const mounts = parseMountList('/app\t/srv/media\t/var/lib/man8s/data/app\n/handmade\t/srv/media/thumbs\n/nginx\t/srv/\n/other\t/srv/media2\n/bare\n');
    assert.deepEqual(mounts[0], { container: 'app', sources: ['/srv/media', '/var/lib/man8s/data/app'] });
    assert.deepEqual(mounts[4], { container: 'bare', sources: [] });
    assert.deepEqual(mountUsers(mounts, '/srv/media', ['app']), ['handmade', 'nginx']);
    assert.deepEqual(mountUsers(mounts, '/etc/localtime'), []);
  });
});

describe('the commit of a move', () => {
  it('names the deployed.yaml of the source, the target and every redeployed neighbour host, once each', () => {
    const dirs: Record<string, string> = { relink: '/f/hosts/relink', lothric: '/f/hosts/lothric', tarrey: '/f/hosts/tarrey' };
    const files = migrationDeployedFiles(
      { from: 'relink', to: 'lothric', affected: [{ host: 'tarrey' }, { host: 'tarrey' }, { host: 'relink' }, { host: 'gone' }] },
      (h) => dirs[h],
    );
    assert.deepEqual(files, [join('/f/hosts/relink', 'deployed.yaml'), join('/f/hosts/lothric', 'deployed.yaml'), join('/f/hosts/tarrey', 'deployed.yaml')]);
  });
});
