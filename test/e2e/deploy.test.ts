/**
 * plan and deploy against the sandbox, through the real man8s binary, as one operator's story: first
 * deploy, no-op, a conf change, an env change, a failure with rollback, locks, host keys, CI's
 * --changed, and pruning an orphan. Each step asserts on the hosts themselves (container ids, start
 * times, files), not only on what man8s prints.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureSandbox, resetSandboxHosts, type SandboxHandle } from '../support/sandbox.js';
import { spawn } from 'node:child_process';
import { makeSandboxFleet, inspect, CLI, type E2EFleet } from '../support/e2e-fleet.js';

let sb: SandboxHandle;
let fleet: E2EFleet;

const DB = `image: busybox:latest
mount:
  data:
    /data: {}
  socket:
    /run/db: {owner: [1000, 1000], perm: "775"}
extra_compose_configs:
  # A pipe in the socket folder stands in for a database socket: the consumer reads "pong" through it.
  command: ["sh", "-c", "rm -f /run/db/pipe; mkfifo /run/db/pipe; while true; do echo pong > /run/db/pipe; done"]
`;
const APP = (extraEnv = '') => `image: busybox:latest
require: [db]
mount:
  conf:
    /etc/app: {}
  socket:
    /db: {source: "db:/run/db"}
environment:
  MODE: normal${extraEnv}
extra_compose_configs:
  command: ["sleep", "infinity"]
`;
const WEB = `image: busybox:latest
mount:
  conf:
    /www: {}
  data:
    /data: {}
port:
  - [8080, 80]
extra_compose_configs:
  command: ["sh", "-c", "date > /data/started && exec httpd -f -p 80 -h /www"]
`;
const CLIENT = (env = 'one') => `image: busybox:latest
local_access: [web]
environment:
  ROUND: "${env}"
extra_compose_configs:
  command: ["sleep", "infinity"]
`;
// /etc/other is a conf mount whose folder has no file in git (git cannot store an empty folder).
const OTHER = (env = 'one') => `image: busybox:latest
mount:
  conf:
    /etc/other: {owner: [1000, 1000], perm: "750"}
environment:
  ROUND: "${env}"
extra_compose_configs:
  command: ["sleep", "infinity"]
`;

/**
 * Runs man8s on a terminal (script(1) gives it a pty, 120 columns; CI unset), typing `keys` once
 * `when` shows up in its output. Returns the exit code and everything the terminal showed, colours off.
 */
async function onTerminal(args: string[], o: { when?: RegExp; keys?: string } = {}): Promise<{ code: number | null; out: string; typed: boolean }> {
  const env: NodeJS.ProcessEnv = { ...process.env, TERM: 'xterm', NO_COLOR: '1' };
  delete env.CI;
  const child = spawn('script', ['-qefc', `stty cols 120 rows 40; ${process.execPath} ${CLI} ${args.join(' ')}`, '/dev/null'], { cwd: fleet.dir, env });
  let out = '';
  let typed = false;
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString('utf8').replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');
    if (o.when && !typed && o.when.test(out)) {
      typed = true;
      child.stdin.write(o.keys ?? '');
    }
  });
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  return { code, out, typed };
}

async function deploy(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return fleet.man8s(['deploy', '--yes', '--settle', '2', ...args]);
}

function explain(r: { code: number; stdout: string; stderr: string }): string {
  return `exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
}

before(async () => {
  sb = await ensureSandbox();
  await resetSandboxHosts();
  fleet = makeSandboxFleet(sb, ['relink', 'lothric', 'tarrey']);
  fleet.write('hosts/relink/conf/db/container.yaml', DB);
  fleet.write('hosts/relink/conf/app/container.yaml', APP());
  fleet.write('hosts/relink/conf/app/etc/app/app.conf', 'level = 1\n');
  fleet.write('hosts/relink/conf/web/container.yaml', WEB);
  fleet.write('hosts/relink/conf/web/www/index.html', 'version one\n');
  fleet.write('hosts/relink/conf/web/www/sites-available/a.conf', 'site a\n');
  fleet.write('hosts/relink/conf/web/www/sites-enabled/a.conf', { symlink: '../sites-available/a.conf' });
  fleet.write('hosts/lothric/conf/client/container.yaml', CLIENT());
  fleet.write('hosts/tarrey/conf/other/container.yaml', OTHER());
  fleet.write('hosts/tarrey/conf/other/notes.txt', 'one\n');
  fleet.commit('fleet');
});

after(async () => {
  fleet?.cleanup();
  if (!sb) return;
  await resetSandboxHosts();
  await sb.release();
});

describe('deploy', () => {
  test('the first deploy creates every container, dependencies first, and commits deployed.yaml', async () => {
    const plan = await fleet.man8s(['plan', '--detailed-exitcode']);
    assert.equal(plan.code, 2, explain(plan));
    assert.match(plan.stdout, /relink \(.*\): 3 to create/);

    const r = await deploy(['--all']);
    assert.equal(r.code, 0, explain(r));
    for (const [host, name] of [['relink', 'db'], ['relink', 'app'], ['relink', 'web'], ['lothric', 'client'], ['tarrey', 'other']] as const) {
      assert.equal((await inspect(sb, host, name))?.status, 'running', `${host}/${name}`);
    }
    const db = (await inspect(sb, 'relink', 'db'))!;
    const app = (await inspect(sb, 'relink', 'app'))!;
    assert.ok(db.startedAt < app.startedAt, `db (${db.startedAt}) must start before app (${app.startedAt}), which requires it`);
    // The relative symlink survived the sync.
    assert.equal((await sb.mustRun('relink', ['readlink', '/var/lib/man8s/conf/web/www/sites-enabled/a.conf'])).trim(), '../sites-available/a.conf');
    // Mount preparation set owner and mode of the socket folder, not of anything inside.
    assert.equal((await sb.mustRun('relink', ['stat', '-c', '%u:%g %a', '/var/lib/man8s/socket/db/run/db'])).trim(), '1000:1000 775');

    assert.match(fleet.git('log', '-1', '--format=%B'), /^deploy lothric \(created client\), relink \(created db, web, app\), tarrey \(created other\)$/m);
    assert.match(fleet.git('log', '-1', '--format=%B'), /\[skip ci\]/);
    assert.deepEqual(fleet.git('show', '--name-only', '--format=', 'HEAD').trim().split('\n').sort(), [
      'hosts/lothric/deployed.yaml', 'hosts/relink/deployed.yaml', 'hosts/tarrey/deployed.yaml',
    ]);
    const record = readFileSync(join(fleet.dir, 'hosts/relink/deployed.yaml'), 'utf8');
    assert.match(record, new RegExp(`commit: ${fleet.git('rev-parse', 'HEAD~1').trim()}`));
    assert.match(record, /db:\n(.*\n)*?\s+result: created/);
  });

  test('a second deploy changes nothing: same containers, no commit', async () => {
    const before = await Promise.all(['db', 'app', 'web'].map((n) => inspect(sb, 'relink', n)));
    const other = await inspect(sb, 'tarrey', 'other');
    const head = fleet.git('rev-parse', 'HEAD').trim();
    const r = await deploy(['--all']);
    assert.equal(r.code, 0, explain(r));
    assert.match(r.stdout, /relink \(.*\): 3 unchanged/);
    assert.match(r.stdout, /tarrey \(.*\): 1 unchanged/);
    assert.deepEqual(await Promise.all(['db', 'app', 'web'].map((n) => inspect(sb, 'relink', n))), before);
    assert.deepEqual(await inspect(sb, 'tarrey', 'other'), other, 'the empty conf mount folder is not a change');
    assert.equal(fleet.git('rev-parse', 'HEAD').trim(), head);
    const plan = await fleet.man8s(['plan', '--detailed-exitcode']);
    assert.equal(plan.code, 0, explain(plan));
  });

  test('a conf mount folder git cannot store survives a restart with its owner and mode; then no-op again', async () => {
    const folder = '/var/lib/man8s/conf/other/etc/other';
    assert.equal((await sb.mustRun('tarrey', ['stat', '-c', '%u:%g %a', folder])).trim(), '1000:1000 750');
    const before = (await inspect(sb, 'tarrey', 'other'))!;
    fleet.write('hosts/tarrey/conf/other/notes.txt', 'two\n');
    fleet.commit('other: notes two');
    const r = await deploy(['tarrey']);
    assert.equal(r.code, 0, explain(r));
    const restarted = (await inspect(sb, 'tarrey', 'other'))!;
    assert.equal(restarted.id, before.id);
    assert.notEqual(restarted.startedAt, before.startedAt, 'restarted for notes.txt');
    assert.equal((await sb.mustRun('tarrey', ['stat', '-c', '%u:%g %a', folder])).trim(), '1000:1000 750', 'the sync kept the mount folder');
    const again = await deploy(['tarrey']);
    assert.equal(again.code, 0, explain(again));
    assert.match(again.stdout, /tarrey \(.*\): 1 unchanged/);
    assert.deepEqual(await inspect(sb, 'tarrey', 'other'), restarted);
  });

  test('files synced by a deploy that stopped before the restart: the next plan restarts the container, saying why', async () => {
    // The state a deploy leaves when it dies between the sync and the restart (connection lost, a
    // second Ctrl-C, SIGKILL): the host has the new files, the container runs with the old ones.
    fleet.write('hosts/tarrey/conf/other/notes.txt', 'three\n');
    fleet.commit('other: notes three');
    await sb.mustRun('tarrey', ['sh', '-c', 'cat > /var/lib/man8s/conf/other/notes.txt'], { input: 'three\n' });
    const before = (await inspect(sb, 'tarrey', 'other'))!;
    const plan = await fleet.man8s(['plan', 'tarrey', '--detailed-exitcode']);
    assert.equal(plan.code, 2, explain(plan));
    assert.match(plan.stdout, /~\s+restart\s+other\s+files synced but the container was not restarted: an earlier deploy stopped midway/);
    const r = await deploy(['tarrey']);
    assert.equal(r.code, 0, explain(r));
    assert.match(r.stdout, /^tarrey: 1 restarted$/m);
    const after = (await inspect(sb, 'tarrey', 'other'))!;
    assert.equal(after.id, before.id);
    assert.notEqual(after.startedAt, before.startedAt);
    assert.equal((await fleet.man8s(['plan', 'tarrey', '--detailed-exitcode'])).code, 0);
  });

  test('on a terminal the progress is a tree: host → step → container', async () => {
    fleet.write('hosts/tarrey/conf/other/notes.txt', 'four\n');
    fleet.commit('other: notes four');
    const r = await onTerminal(['deploy', '--yes', 'tarrey', '--settle', '2']);
    assert.equal(r.code, 0, r.out);
    const last = r.out.slice(r.out.lastIndexOf('tarrey: 1 restarted'));
    assert.match(last, /^tarrey: 1 restarted\r?\n\s+✔ sync conf\/plugin\r?\n\s+✔ level 0\r?\n\s+✔ restart other\r?\n/, r.out);
  });

  test('uncommitted fleet settings (man8s.yaml) are refused like uncommitted host files', async () => {
    const settings = readFileSync(join(fleet.dir, 'man8s.yaml'), 'utf8');
    fleet.write('man8s.yaml', `${settings}# an edit not committed\n`);
    const r = await deploy(['relink']);
    assert.equal(r.code, 1, explain(r));
    assert.match(r.stderr, /^man8s: the fleet has uncommitted changes \(man8s\.yaml\): commit them first, or pass --allow-dirty/);
    fleet.write('man8s.yaml', settings);
  });

  test('a socket folder shared by reference is the same folder in both containers', async () => {
    const r = await sb.run('relink', ['docker', 'exec', 'app', 'sh', '-c', 'read line < /db/pipe; echo "$line"'], { timeoutMs: 20_000 });
    assert.equal(r.stdout.trim(), 'pong', explain({ ...r }));
  });

  test('a container on another host reaches web by <name>.man8s.local over yggdrasil', async () => {
    const script = 'addr=$(awk \'$2=="web.man8s.local"{print $1}\' /etc/hosts); printf "GET / HTTP/1.0\\r\\n\\r\\n" | nc -w 5 "$addr" 80';
    let page = '';
    for (let i = 0; i < 15 && !page.includes('version one'); i++) {
      page = (await sb.run('lothric', ['docker', 'exec', 'client', 'sh', '-c', script], { timeoutMs: 20_000 })).stdout;
      if (!page.includes('version one')) await new Promise((r) => setTimeout(r, 1000));
    }
    assert.match(page, /200 OK[\s\S]*version one/);
  });

  test('a changed conf file restarts only its container, and plan shows the diff first', async () => {
    const before = { web: await inspect(sb, 'relink', 'web'), db: await inspect(sb, 'relink', 'db'), app: await inspect(sb, 'relink', 'app') };
    fleet.write('hosts/relink/conf/web/www/index.html', 'version two\n');
    fleet.commit('web: version two');
    const plan = await fleet.man8s(['plan', 'relink']);
    assert.match(plan.stdout, /~\s+restart\s+web\s+files changed: conf\/www\/index.html/);
    assert.match(plan.stdout, /-version one\n\+version two/);
    const r = await deploy(['relink']);
    assert.equal(r.code, 0, explain(r));
    const web = (await inspect(sb, 'relink', 'web'))!;
    assert.equal(web.id, before.web!.id, 'restarted, not re-created');
    assert.notEqual(web.startedAt, before.web!.startedAt, 'restarted');
    assert.deepEqual(await inspect(sb, 'relink', 'db'), before.db);
    assert.deepEqual(await inspect(sb, 'relink', 'app'), before.app);
    assert.equal((await sb.mustRun('relink', ['cat', '/var/lib/man8s/conf/web/www/index.html'])), 'version two\n');
  });

  test('a changed environment re-creates only that container', async () => {
    const before = { db: await inspect(sb, 'relink', 'db'), web: await inspect(sb, 'relink', 'web') };
    const oldApp = (await inspect(sb, 'relink', 'app'))!;
    fleet.write('hosts/relink/conf/app/container.yaml', APP('\n  EXTRA: "yes"'));
    fleet.commit('app: env');
    const r = await deploy(['relink']);
    assert.equal(r.code, 0, explain(r));
    assert.notEqual((await inspect(sb, 'relink', 'app'))!.id, oldApp.id);
    assert.equal((await sb.mustRun('relink', ['docker', 'exec', 'app', 'sh', '-c', 'echo $EXTRA'])).trim(), 'yes');
    assert.deepEqual(await inspect(sb, 'relink', 'db'), before.db);
    assert.deepEqual(await inspect(sb, 'relink', 'web'), before.web);
  });

  test('a failing container is rolled back, what requires it is skipped, other hosts deploy, exit 1', async () => {
    const goodDbSpec = (await sb.mustRun('relink', ['docker', 'inspect', '--format', '{{index .Config.Labels "io.man8s.spec-hash"}}', 'db'])).trim();
    const oldApp = (await inspect(sb, 'relink', 'app'))!;
    const oldOther = (await inspect(sb, 'tarrey', 'other'))!;
    fleet.write('hosts/relink/conf/db/container.yaml', DB.replace(/command: .*/, 'command: ["sh", "-c", "echo broken >&2; exit 3"]'));
    fleet.write('hosts/relink/conf/app/container.yaml', APP('\n  EXTRA: "again"'));
    fleet.write('hosts/tarrey/conf/other/container.yaml', OTHER('two'));
    fleet.commit('break db');
    const r = await deploy(['relink', 'tarrey']);
    assert.equal(r.code, 1, explain(r));
    assert.match(r.stdout, /relink: db: failed: .*(exited|restart).*the previous version runs again/);
    assert.match(r.stdout, /relink: app: skipped: requires db/);
    // The previous db runs again, app was not touched, tarrey went ahead.
    assert.equal((await inspect(sb, 'relink', 'db'))?.status, 'running');
    assert.equal((await sb.mustRun('relink', ['docker', 'inspect', '--format', '{{index .Config.Labels "io.man8s.spec-hash"}}', 'db'])).trim(), goodDbSpec);
    assert.deepEqual(await inspect(sb, 'relink', 'app'), oldApp);
    assert.equal((await sb.mustRun('relink', ['docker', 'exec', 'app', 'sh', '-c', 'echo $EXTRA'])).trim(), 'yes');
    assert.notEqual((await inspect(sb, 'tarrey', 'other'))!.id, oldOther.id);
    // The files of the skipped container were put back too.
    assert.doesNotMatch(await sb.mustRun('relink', ['cat', '/var/lib/man8s/conf/app/container.yaml']), /again/);
    const record = readFileSync(join(fleet.dir, 'hosts/relink/deployed.yaml'), 'utf8');
    assert.match(record, /db:\n(.*\n)*?\s+result: failed/);
    fleet.git('revert', '--no-edit', 'HEAD~1');
    const fixed = await deploy(['relink']);
    assert.equal(fixed.code, 0, explain(fixed));
  });

  test('a second deploy to a locked host names the holder, or waits with --lock-wait', async () => {
    fleet.write('hosts/tarrey/conf/other/container.yaml', OTHER('three'));
    fleet.commit('other: three');
    const first = fleet.man8s(['deploy', '--yes', 'tarrey', '--settle', '8']);
    await new Promise((r) => setTimeout(r, 2500));
    const refused = await fleet.man8s(['deploy', '--yes', 'tarrey']);
    assert.equal(refused.code, 1, explain(refused));
    assert.match(refused.stdout + refused.stderr, /tarrey: locked by .*\(pid \d+, commit [0-9a-f]{12}, since .*\); wait for it to finish \(--lock-wait\), or if it is gone run: man8s unlock tarrey/);
    const waited = await fleet.man8s(['deploy', '--yes', 'tarrey', '--lock-wait', '60']);
    assert.equal((await first).code, 0);
    assert.equal(waited.code, 0, explain(waited));
  });

  test('SIGTERM while waiting for a lock releases the locks already taken and exits 130 with one line', async () => {
    fleet.write('hosts/tarrey/conf/other/container.yaml', OTHER('four'));
    fleet.commit('other: four');
    const holder = fleet.man8s(['deploy', '--yes', 'tarrey', '--settle', '10']);
    const lockOf = async (host: string) => (await sb.run(host, ['cat', '/run/lock/man8s/holder.json'])).stdout;
    for (let i = 0; i < 100 && !(await lockOf('tarrey')); i++) await new Promise((r) => setTimeout(r, 200));
    const waiting = spawn(process.execPath, [CLI, 'deploy', '--yes', 'relink', 'tarrey', '--lock-wait', '120'], { cwd: fleet.dir, env: { ...process.env, CI: '1' } });
    let out = '';
    waiting.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
    waiting.stderr.on('data', (d: Buffer) => (out += d.toString('utf8')));
    const closed = new Promise<number | null>((resolve) => waiting.on('close', resolve));
    // It holds relink's lock while it waits for tarrey's.
    for (let i = 0; i < 100 && !(await lockOf('relink')).includes(`"pid":${waiting.pid}`); i++) await new Promise((r) => setTimeout(r, 200));
    assert.match(await lockOf('relink'), new RegExp(`"pid":${waiting.pid}`), out);
    const signalled = Date.now();
    waiting.kill('SIGTERM');
    assert.equal(await closed, 130, out);
    assert.ok(Date.now() - signalled < 10_000, 'it stopped waiting at once');
    assert.equal(out, 'man8s: interrupted: nothing was changed on any host; locks released\n');
    assert.equal((await sb.run('relink', ['test', '-e', '/run/lock/man8s'])).code, 1, "relink's lock released");
    const first = await holder;
    assert.equal(first.code, 0, explain(first));
  });

  test('an unknown host key is refused until accepted; a changed key is always refused', async () => {
    const knownHosts = join(fleet.dir, 'known_hosts');
    writeFileSync(knownHosts, '');
    // First value wins in ssh_config: this known_hosts replaces the sandbox's for every host.
    writeFileSync(join(fleet.dir, 'ssh_config'), `Host *\n  UserKnownHostsFile ${knownHosts}\nInclude ${sb.sshConfig}\n`);
    const hostYaml = readFileSync(join(fleet.dir, 'hosts/lothric/host.yaml'), 'utf8');
    fleet.write('hosts/lothric/host.yaml', `${hostYaml}ssh_config: ssh_config\n`);
    const refused = await fleet.man8s(['plan', 'lothric']);
    assert.equal(refused.code, 1, explain(refused));
    assert.match(refused.stdout, /lothric: error: lothric: unknown host key for .* \(ssh-ed25519 SHA256:[A-Za-z0-9+/]{43}\); verify the fingerprint, then run again with --accept-new-host-keys/);
    const accepted = await fleet.man8s(['plan', 'lothric', '--accept-new-host-keys']);
    assert.equal(accepted.code, 0, explain(accepted));
    assert.match(readFileSync(knownHosts, 'utf8'), /ssh-ed25519 /);
    assert.equal((await fleet.man8s(['plan', 'lothric'])).code, 0);
    // Another host's key under lothric's name: a changed key.
    const lines = readFileSync(knownHosts, 'utf8').trim().split('\n');
    const otherKey = readFileSync(sb.overlay.knownHosts, 'utf8').split('\n').find((l) => l.includes(sb.overlay.hosts.tarrey!.address) && l.includes('ed25519'))!;
    writeFileSync(knownHosts, lines.map((l) => `${l.split(' ')[0]} ${otherKey.split(' ').slice(1).join(' ')}`).join('\n') + '\n');
    const changed = await fleet.man8s(['plan', 'lothric', '--accept-new-host-keys']);
    assert.equal(changed.code, 1, explain(changed));
    assert.match(changed.stdout, /HOST KEY CHANGED for .*ssh-keygen -R/);
    fleet.write('hosts/lothric/host.yaml', hostYaml);
  });

  test('--changed deploys only the hosts whose files changed since their deployed.yaml commit', async () => {
    fleet.write('hosts/lothric/conf/client/container.yaml', CLIENT('two'));
    fleet.commit('client: two');
    const r = await deploy(['--changed']);
    assert.equal(r.code, 0, explain(r));
    assert.match(r.stdout, /^lothric/m);
    assert.doesNotMatch(r.stdout, /^(relink|tarrey)/m);
    assert.equal((await sb.mustRun('lothric', ['docker', 'exec', 'client', 'sh', '-c', 'echo $ROUND'])).trim(), 'two');
    const again = await deploy(['--changed']);
    assert.equal(again.code, 0, explain(again));
    assert.match(again.stdout, /no host to deploy: none changed/);
  });

  test('Ctrl-C at the confirmation prompt changes nothing, releases the lock and exits 130 with one line', async () => {
    const before = (await inspect(sb, 'relink', 'app'))!;
    fleet.write('hosts/relink/conf/app/etc/app/app.conf', 'level = 9\n');
    fleet.commit('app: level 9');
    // On a terminal readline reads Ctrl-C as a key.
    const { code, out, typed: sent } = await onTerminal(['deploy', 'relink'], { when: /Deploy to relink\? \[y\/N\]/, keys: '\x03' });
    assert.ok(sent, out);
    assert.equal(code, 130, out);
    assert.doesNotMatch(out, /internal error/);
    assert.equal(out.match(/^man8s: .*$/gm)?.length, 1, out);
    assert.match(out, /^man8s: interrupted: nothing was changed on any host; locks released\r?$/m);
    assert.equal((await sb.run('relink', ['test', '-e', '/run/lock/man8s'])).code, 1, 'lock released');
    assert.deepEqual(await inspect(sb, 'relink', 'app'), before);
    assert.equal(await sb.mustRun('relink', ['cat', '/var/lib/man8s/conf/app/etc/app/app.conf']), 'level = 1\n');
    fleet.git('revert', '--no-edit', 'HEAD');
  });

  test('Ctrl-C finishes the current step, skips the rest with their files put back, and releases the lock', async () => {
    const before = (await inspect(sb, 'relink', 'app'))!;
    fleet.write('hosts/relink/conf/db/container.yaml', DB.replace('/data: {}', '/data: {}\n    /data2: {}'));
    fleet.write('hosts/relink/conf/app/container.yaml', APP('\n  EXTRA: "interrupted"'));
    fleet.write('hosts/relink/conf/app/etc/app/app.conf', 'level = 2\n');
    fleet.commit('db and app change');
    const child = spawn(process.execPath, [CLI, 'deploy', '--yes', 'relink', '--settle', '6'], { cwd: fleet.dir, env: { ...process.env, CI: '1' } });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString('utf8');
      if (/relink: db: waiting until it stays up/.test(out) && !child.killed) child.kill('SIGINT');
    });
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    assert.equal(code, 130, out);
    assert.match(out, /relink: db: done/);
    assert.match(out, /relink: app: skipped \(interrupted\)/);
    assert.deepEqual(await inspect(sb, 'relink', 'app'), before, 'app untouched');
    assert.equal(await sb.mustRun('relink', ['cat', '/var/lib/man8s/conf/app/etc/app/app.conf']), 'level = 1\n', 'its synced file put back');
    assert.equal((await sb.run('relink', ['test', '-e', '/run/lock/man8s'])).code, 1, 'lock released');
    const rest = await deploy(['relink']);
    assert.equal(rest.code, 0, explain(rest));
    assert.match(rest.stdout, /relink: 1 recreated, 2 unchanged/);
  });

  test('an orphan is reported, kept without --prune, removed with it, and its data stays', async () => {
    const started = (await sb.mustRun('relink', ['cat', '/var/lib/man8s/data/web/data/started'])).trim();
    assert.ok(started.length > 0);
    fleet.remove('hosts/relink/conf/web');
    // Its one client stops addressing it in the same commit, or the fleet would not validate.
    const client = readFileSync(join(fleet.dir, 'hosts/lothric/conf/client/container.yaml'), 'utf8');
    fleet.write('hosts/lothric/conf/client/container.yaml', client.replace('local_access: [web]\n', ''));
    fleet.commit('retire web');
    const plan = await fleet.man8s(['plan', 'relink']);
    assert.match(plan.stdout, /orphan\s+web\s+container on the host, not in git \(kept; --prune removes it; its data stays\)/, explain(plan));
    const kept = await deploy(['relink']);
    assert.equal(kept.code, 0, explain(kept));
    assert.equal((await inspect(sb, 'relink', 'web'))?.status, 'running');
    const pruned = await deploy(['relink', '--prune']);
    assert.equal(pruned.code, 0, explain(pruned));
    assert.equal(await inspect(sb, 'relink', 'web'), null);
    assert.equal((await sb.mustRun('relink', ['cat', '/var/lib/man8s/data/web/data/started'])).trim(), started);
    assert.notEqual((await sb.run('relink', ['test', '-e', '/var/lib/man8s/conf/web'])).code, 0, 'conf folder set aside');
  });
});
