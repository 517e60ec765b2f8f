/**
 * Day-2 operations (issue 6) against the sandbox, through the real built CLI (dist/cli.js) run in small
 * temporary fleet repos whose hosts point at the sandbox hosts (ssh alias + ssh_config + real yggaddr).
 * Every state is created on purpose first: containers "deployed" the way deploy does it (rsync of the
 * conf tree + the rendered compose file), made by hand like mbctl, stopped, or left out of git.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { dirname, join } from 'node:path';
import { loadFleetOrFail } from '../../src/cli/context.js';
import { openHost } from '../../src/apply/hosts.js';
import { composeYaml, desiredHost } from '../../src/man8s/render.js';
import { containerYggaddr } from '../../src/man8s/ygg.js';
import { composeApplyCommand, engineTarget } from '../../src/remote/engine.js';
import { hostPaths } from '../../src/remote/paths.js';
import { pushTreesArgv, runRsync } from '../../src/remote/rsync.js';
import { quoteArgv } from '../../src/remote/quote.js';
import { MAN8BR_V4, MAN8BR_V6 } from '../../src/sandbox/docker.js';
import { REPO_ROOT, ensureSandbox, resetSandboxHosts, type SandboxHandle } from '../support/sandbox.js';

const CLI = join(REPO_ROOT, 'dist', 'cli.js');
const HOSTS = ['relink', 'lothric', 'tarrey'];
let sb: SandboxHandle;
const temps: string[] = [];

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs the built man8s in `cwd`, stdin from `input` (never a TTY), never against the overlay unless
 * `extraEnv` names it (host.yaml says where).
 */
function man8s(cwd: string, args: string[], input = '', extraEnv: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env };
    delete env.MAN8S_SANDBOX;
    delete env.MAN8S_SANDBOX_OVERLAY;
    Object.assign(env, extraEnv);
    const child = spawn(process.execPath, [CLI, ...args], { cwd, env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 255, stdout, stderr }));
    child.stdin.end(input);
  });
}

function write(file: string, text: string): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, text);
}

async function git(cwd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('git', args, { cwd });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`git ${args.join(' ')}: ${err}`))));
  });
}

async function commitAll(repo: string, message: string): Promise<void> {
  await git(repo, ['add', '-A']);
  await git(repo, ['-c', 'user.name=e2e', '-c', 'user.email=e2e@example.org', 'commit', '-q', '-m', message]);
}

/** A fleet repo whose hosts are the sandbox's; `containers[host][name]` = container.yaml text. */
async function makeFleet(label: string, hosts: Record<string, { containers?: Record<string, string>; hostYaml?: string }>): Promise<string> {
  const repo = mkdtempSync(join(tmpdir(), `man8s-day2-${label}-`));
  temps.push(repo);
  await git(repo, ['init', '-q']);
  write(join(repo, 'man8s.yaml'), `defaults:\n  ssh_config: ${sb.overlay.sshConfig}\n  engine: docker\n`);
  mkdirSync(join(repo, 'hosts'), { recursive: true });
  for (const [host, h] of Object.entries(hosts)) {
    const o = sb.overlay.hosts[host];
    write(join(repo, 'hosts', host, 'host.yaml'), h.hostYaml ?? `ssh: ${o!.ssh}\nyggaddr: ${o!.yggaddr}\n`);
    for (const [name, yaml] of Object.entries(h.containers ?? {})) write(join(repo, 'hosts', host, 'conf', name, 'container.yaml'), yaml);
  }
  await commitAll(repo, 'fleet');
  return repo;
}

/** What deploy does for one container, by hand: push its conf tree, write its compose file, compose up. */
async function deployByHand(repo: string, hostName: string, name: string): Promise<void> {
  const fleet = await loadFleetOrFail({ sandbox: false, verbose: false }, repo);
  const host = fleet.hosts.get(hostName)!;
  const want = desiredHost(fleet, hostName).containers.find((c) => c.name === name)!;
  const paths = hostPaths(host.settings.storage_path);
  const conn = await openHost(host);
  try {
    await conn.check(['mkdir', '-p', `${paths.storage}/conf`, `${paths.storage}/plugin`], 'mkdir');
    const trees = existsSync(join(host.dir, 'plugin', name)) ? [{ type: 'conf' as const, name }, { type: 'plugin' as const, name }] : [{ type: 'conf' as const, name }];
    await runRsync(pushTreesArgv({ host: conn.resolved, localDir: host.dir, storagePath: paths.storage, trees, backupDir: paths.backup('e2e') }), { label: hostName });
    const cmd = composeApplyCommand({ target: engineTarget(host.settings, 'docker-compose-v1'), paths, name, yaml: composeYaml(want.compose), recreate: true });
    const r = await conn.runCommand(cmd, { timeoutMs: 120_000 });
    assert.equal(r.code, 0, `compose up ${name}: ${r.stderr}`);
  } finally {
    await conn.close();
  }
}

const BUSY = (extra = ''): string => `image: busybox:latest\nextra_compose_configs:\n  command: [sh, -c, 'echo hello from $$HOSTNAME; exec sleep 100000']\n${extra}`;

function lsRow(out: string, host: string, name: string): string[] {
  const line = out.split('\n').find((l) => l.split(/\s{2,}/)[0] === host && l.split(/\s{2,}/)[1] === name);
  assert.ok(line, `no ls row for ${host}/${name} in:\n${out}`);
  return line.split(/\s{2,}/);
}

before(async () => {
  sb = await ensureSandbox({ hosts: HOSTS });
  await resetSandboxHosts();
});

after(async () => {
  for (const t of temps) rmSync(t, { recursive: true, force: true });
  if (!sb) return;
  await resetSandboxHosts();
  await sb.release();
});

describe('live ls, status, sessions and lifecycle', () => {
  let repo: string;

  before(async () => {
    repo = await makeFleet('main', {
      relink: {
        containers: {
          'd2-up': BUSY(),
          'd2-never': BUSY(),
          'd2-files': BUSY(),
          'd2-spec': BUSY(),
          'd2-twin': BUSY(),
          'd2-byhand': BUSY(),
        },
      },
      lothric: { containers: { 'd2-twin': BUSY() } },
      tarrey: {},
    });
    write(join(repo, 'hosts/relink/conf/d2-files/etc/app.conf'), 'v=1\n');
    await commitAll(repo, 'files');
    for (const n of ['d2-up', 'd2-files', 'd2-spec']) await deployByHand(repo, 'relink', n);
    // Drift made on purpose in git after the deploy: a changed conf file, a changed environment.
    write(join(repo, 'hosts/relink/conf/d2-files/etc/app.conf'), 'v=2\n');
    write(join(repo, 'hosts/relink/conf/d2-spec/container.yaml'), BUSY('environment: {MODE: two}\n'));
    await commitAll(repo, 'drift');
    // An orphan: labelled as man8s's, not in git.
    await sb.mustRun('relink', ['docker', 'run', '-d', '--name', 'd2-orphan', '--label', 'io.man8s.managed=true', '--network', 'man8br', 'busybox:latest', 'sleep', '100000']);
    // Made like mbctl does (a conf folder, a container without man8s's labels): one git has, one it does
    // not; and a conf folder left behind with no container and not in git.
    await sb.mustRun('relink', ['sh', '-c', 'for n in d2-byhand d2-mbctl d2-leftover; do mkdir -p /var/lib/man8s/conf/$n && echo "image: busybox:latest" > /var/lib/man8s/conf/$n/container.yaml; done']);
    for (const n of ['d2-byhand', 'd2-mbctl']) await sb.mustRun('relink', ['docker', 'run', '-d', '--name', n, '--hostname', n, '--network', 'man8br', 'busybox:latest', 'sleep', '100000']);
  });

  test('ls shows Up/in sync, Never/not deployed, Orphan, files drift and spec drift, with ygg addresses', async () => {
    const r = await man8s(repo, ['ls']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout.split('\n')[0]!, /^Host\s+Container\s+Image\s+Status\s+AutoStart\s+YggAddr\s+Sync$/);
    const up = lsRow(r.stdout, 'relink', 'd2-up');
    assert.match(up[3]!, /^Up (Less than a second|\d+ seconds|About a minute|\d+ minutes)$/);
    assert.equal(up[4], 'Yes');
    assert.equal(up[5], containerYggaddr(sb.overlay.hosts.relink!.yggaddr, 'd2-up'));
    assert.equal(up[6], 'in sync');
    assert.deepEqual(lsRow(r.stdout, 'relink', 'd2-never').slice(3), ['Never', 'Yes', containerYggaddr(sb.overlay.hosts.relink!.yggaddr, 'd2-never'), 'not deployed']);
    assert.equal(lsRow(r.stdout, 'relink', 'd2-files')[6], 'files drift');
    assert.equal(lsRow(r.stdout, 'relink', 'd2-spec')[6], 'spec drift');
    assert.deepEqual(lsRow(r.stdout, 'relink', 'd2-orphan').slice(3), ['Orphan', '-', '-', 'not in git']);
    assert.equal(lsRow(r.stdout, 'lothric', 'd2-twin')[3], 'Never');
    // mbctl's containers and folders: in git but unlabelled, not in git at all, and a folder alone.
    const byHand = lsRow(r.stdout, 'relink', 'd2-byhand');
    assert.match(byHand[3]!, /^Up /);
    assert.equal(byHand[6], 'made outside man8s');
    assert.deepEqual(lsRow(r.stdout, 'relink', 'd2-mbctl').slice(2), ['busybox:latest', 'Orphan', '-', '-', 'not in git']);
    assert.deepEqual(lsRow(r.stdout, 'relink', 'd2-leftover').slice(2), ['-', 'Orphan (no container)', '-', '-', 'not in git']);

    const j = await man8s(repo, ['ls', 'relink', '--json']);
    assert.equal(j.code, 0, j.stderr);
    const rows = JSON.parse(j.stdout) as Array<{ host: string; name: string; sync: string; state: string | null; reasons: string[] }>;
    assert.ok(rows.every((row) => row.host === 'relink'));
    const spec = rows.find((row) => row.name === 'd2-spec')!;
    assert.equal(spec.state, 'running');
    assert.match(spec.reasons.join(' '), /settings changed/);
    assert.equal(rows.find((row) => row.name === 'd2-never')!.state, null);
    assert.match(rows.find((row) => row.name === 'd2-mbctl')!.reasons.join('\n'), /^Up [^\n]*, made outside man8s \(no io\.man8s labels\), not in git$/);
    assert.deepEqual(rows.find((row) => row.name === 'd2-leftover')!.reasons, ['conf/d2-leftover on the host, no container, not in git']);
  });

  test('logs prints the container output; exec passes output, stdin and exit code through', async () => {
    const logs = await man8s(repo, ['logs', 'd2-up', '--tail', '5']);
    assert.equal(logs.code, 0, logs.stderr);
    assert.match(logs.stdout, /hello from d2-up/);

    const ok = await man8s(repo, ['exec', 'd2-up', '--', 'sh', '-c', 'echo "out $HOSTNAME"; echo err >&2']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stdout, 'out d2-up\n');
    assert.equal(ok.stderr, 'err\n');

    const failing = await man8s(repo, ['exec', 'relink/d2-up', '--', 'sh', '-c', 'exit 7']);
    assert.equal(failing.code, 7);

    const piped = await man8s(repo, ['exec', 'd2-up', '--', 'wc', '-l'], 'a\nb\nc\n');
    assert.equal(piped.stdout.trim(), '3');
  });

  test('logs --since shows only what came after; logs -f prints a line written after it started, until Ctrl-C', async () => {
    // Lines written to the container's own stdout (PID 1's), as the app would log them.
    const say = (text: string) => sb.mustRun('relink', ['docker', 'exec', 'd2-up', 'sh', '-c', 'echo "$1" > /proc/1/fd/1', 'say', text]);
    await say('marker-before');
    await sleep(2100);
    const since = (await sb.mustRun('relink', ['date', '-u', '+%Y-%m-%dT%H:%M:%SZ'])).trim();
    await sleep(1100);
    await say('marker-after');
    const recent = await man8s(repo, ['logs', 'd2-up', '--since', since]);
    assert.equal(recent.code, 0, recent.stderr);
    assert.match(recent.stdout, /^marker-after$/m);
    assert.doesNotMatch(recent.stdout, /marker-before|hello from/);
    const tenMinutes = await man8s(repo, ['logs', 'd2-up', '--since', '10m']);
    assert.match(tenMinutes.stdout, /hello from d2-up\n(.*\n)*marker-before\n(.*\n)*marker-after\n/);

    const env = { ...process.env };
    delete env.MAN8S_SANDBOX;
    delete env.MAN8S_SANDBOX_OVERLAY;
    const follow = spawn(process.execPath, [CLI, 'logs', '-f', '--tail', '1', 'd2-up'], { cwd: repo, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    follow.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => follow.on('close', (code) => resolve(code)));
    const waitFor = async (text: string): Promise<void> => {
      for (let i = 0; i < 200 && !out.includes(text); i++) await sleep(100);
      assert.ok(out.includes(text), `logs -f never printed ${text}; got:\n${out}`);
    };
    try {
      await waitFor('marker-after');
      await say('marker-followed');
      await waitFor('marker-followed\n');
      follow.kill('SIGINT');
      const code = await Promise.race([exited, sleep(10_000).then(() => 'still running')]);
      assert.equal(code, 130, 'Ctrl-C ends logs -f with 130, as ssh');
      // …and on the host too: no `docker logs --follow` left behind (the [1] keeps pgrep from matching itself).
      let left = 0;
      for (let i = 0; i < 50; i++) {
        left = (await sb.run('relink', ['pgrep', '-f', 'logs --follow --tail [1] d2-up'])).code === 0 ? 1 : 0;
        if (!left) break;
        await sleep(100);
      }
      assert.equal(left, 0, 'docker logs --follow still runs on the host after Ctrl-C');
    } finally {
      follow.kill('SIGKILL');
    }
  });

  test('with a terminal, exec gets a pty (window size included) and still passes the exit code', async () => {
    // `script` gives man8s a pseudo-terminal as stdin and stdout, like an operator's shell.
    const cmd = `stty cols 111 rows 33; ${quoteArgv([process.execPath, CLI, 'exec', 'd2-up', '--', 'sh', '-c', 'tty; sleep 1; stty size; exit 5'])}`;
    const r = await new Promise<CliResult>((resolve) => {
      const child = spawn('script', ['-q', '-e', '-c', cmd, '/dev/null'], { cwd: repo, stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.on('close', (code) => resolve({ code: code ?? 255, stdout, stderr: '' }));
      child.stdin.end();
    });
    assert.match(r.stdout, /\/dev\/pts\/\d+\r*\n/);
    assert.match(r.stdout, /33 111/);
    assert.equal(r.code, 5);
  });

  test('shell runs stdin in the container; shell --network sees the container addresses from the host', async () => {
    const sh = await man8s(repo, ['shell', 'd2-up'], 'hostname\necho shell=$0\n');
    assert.equal(sh.code, 0, sh.stderr);
    assert.match(sh.stdout, /^d2-up\nshell=(sh|bash)\n$/);

    const addr = containerYggaddr(sb.overlay.hosts.relink!.yggaddr, 'd2-up');
    const net = await man8s(repo, ['shell', '--network', 'd2-up'], 'ip -6 addr show\nhostname\nexit 3\n');
    assert.equal(net.code, 3, net.stderr);
    assert.ok(net.stdout.includes(addr), `container address ${addr} not seen in:\n${net.stdout}`);
    // The host's own shell: its hostname, not the container's.
    assert.match(net.stdout, /^relink$/m);
  });

  test('a name on several hosts needs host/name; an unknown one lists close names', async () => {
    const twin = await man8s(repo, ['logs', 'd2-twin']);
    assert.equal(twin.code, 1);
    assert.match(twin.stderr, /container "d2-twin" is on several hosts; say which one: lothric\/d2-twin, relink\/d2-twin/);
    const typo = await man8s(repo, ['exec', 'd2-upp', '--', 'true']);
    assert.equal(typo.code, 1);
    assert.match(typo.stderr, /no container "d2-upp" in the fleet; did you mean relink\/d2-up/);
  });

  test('stop, start and restart change the container state', async () => {
    const stop = await man8s(repo, ['stop', 'd2-up', '-t', '1']);
    assert.equal(stop.code, 0, stop.stderr);
    assert.equal(stop.stdout, 'relink/d2-up: stopped\n');
    assert.match(lsRow((await man8s(repo, ['ls', 'relink'])).stdout, 'relink', 'd2-up')[3]!, /^Exited \(\d+\) (Less than a second|\d+ seconds?) ago$/);
    assert.equal((await sb.mustRun('relink', ['docker', 'inspect', '-f', '{{.State.Running}}', 'd2-up'])).trim(), 'false');

    const start = await man8s(repo, ['start', 'd2-up']);
    assert.equal(start.code, 0, start.stderr);
    assert.equal((await sb.mustRun('relink', ['docker', 'inspect', '-f', '{{.State.Running}}', 'd2-up'])).trim(), 'true');

    const before = (await sb.mustRun('relink', ['docker', 'inspect', '-f', '{{.State.StartedAt}}', 'd2-up'])).trim();
    const restart = await man8s(repo, ['restart', 'relink/d2-up', '-t', '1']);
    assert.equal(restart.code, 0, restart.stderr);
    assert.equal(restart.stdout, 'relink/d2-up: restarted\n');
    const afterStart = (await sb.mustRun('relink', ['docker', 'inspect', '-f', '{{.State.StartedAt}}', 'd2-up'])).trim();
    assert.notEqual(afterStart, before);
    assert.match(lsRow((await man8s(repo, ['ls', 'relink'])).stdout, 'relink', 'd2-up')[3]!, /^Up /);

    // Never created: the engine's error for that name, on stderr, exit 1; the other name is still done.
    const both = await man8s(repo, ['start', 'd2-never', 'd2-up', 'lothric/d2-twin']);
    assert.equal(both.code, 1);
    assert.equal(both.stdout, 'relink/d2-up: started\n');
    assert.match(both.stderr, /^man8s: lothric\/d2-twin: not started: .*d2-twin.*\nman8s: relink\/d2-never: not started: .*No such container: d2-never.*\n$/);
  });

  test('status: engine, yggdrasil = host.yaml, deployed vs HEAD, lock, containers up/total', async () => {
    const r = await man8s(repo, ['status', 'relink', 'tarrey']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^relink {2}reachable \(root@10\.213\.0\.\d+:22\)$/m);
    assert.match(r.stdout, /^ {2}engine {6}docker \S+, compose docker-compose-v1 1\.29\.\d+$/m);
    assert.ok(r.stdout.includes(`  yggdrasil   ${sb.overlay.hosts.relink!.yggaddr} (= host.yaml)`), r.stdout);
    assert.match(r.stdout, /^ {2}deployed {4}never deployed by man8s \(HEAD [0-9a-f]{12}\)$/m);
    assert.match(r.stdout, /^ {2}lock {8}free$/m);
    // In git: d2-up, d2-files, d2-spec and d2-byhand (made by hand) run, d2-never and d2-twin do not;
    // orphans: d2-orphan (labelled) and d2-mbctl (made by hand, conf folder), as ls lists them.
    assert.match(r.stdout, /^ {2}containers {2}4\/6 up, 2 orphans \(not in git\)$/m);
    assert.match(r.stdout, /^tarrey {2}reachable/m);
    const j = JSON.parse((await man8s(repo, ['status', 'relink', '--json'])).stdout) as Array<{ containers: { up: number; total: number } }>;
    assert.deepEqual(j[0]!.containers, { up: 4, total: 6, orphans: 2 });
  });

  test('nerdctl passes through to the engine; ssh runs the user\'s ssh with the fleet ssh_config', async () => {
    const ps = await man8s(repo, ['nerdctl', 'relink', '--', 'ps', '-a', '--format', '{{.Names}}']);
    assert.equal(ps.code, 0, ps.stderr);
    assert.ok(ps.stdout.split('\n').includes('d2-up'), ps.stdout);
    const bad = await man8s(repo, ['nerdctl', 'relink', '--', 'inspect', 'no-such-container']);
    assert.equal(bad.code, 1);

    const ssh = await man8s(repo, ['ssh', 'lothric', '--', 'sh', '-c', 'hostname; exit 4']);
    assert.equal(ssh.stdout.trim(), 'lothric');
    assert.equal(ssh.code, 4);
  });

  test('an unreachable host is one line in ls and status; the others are still shown, exit 1', async () => {
    const ghost = await makeFleet('ghost', {
      relink: { containers: { 'd2-up': BUSY() } },
      ghost: { hostYaml: `ssh: root@127.0.0.1:1\nyggaddr: ${sb.overlay.hosts.tarrey!.yggaddr}\n` },
    });
    const ls = await man8s(ghost, ['ls']);
    assert.equal(ls.code, 1);
    assert.equal(lsRow(ls.stdout, 'relink', 'd2-up')[6], 'in sync');
    assert.match(ls.stdout, /^ghost: unreachable: cannot connect to root@127\.0\.0\.1:1 \(ECONNREFUSED\)/m);
    const js = JSON.parse((await man8s(ghost, ['ls', '--json'])).stdout) as Array<{ host: string; error?: string }>;
    assert.ok(js.some((row) => row.host === 'ghost' && /ECONNREFUSED/.test(row.error ?? '')));
    assert.ok(js.some((row) => row.host === 'relink' && !row.error));

    const st = await man8s(ghost, ['status']);
    assert.equal(st.code, 1);
    assert.match(st.stdout, /^ghost {2}unreachable: cannot connect/m);
    assert.match(st.stdout, /^relink {2}reachable/m);
  });
});

describe('status and ls under --sandbox read the records a sandbox deploy writes', () => {
  test('deploy --sandbox, then status says up to date; a commit changing the host makes it behind; ls sees host edits since the deploy', async () => {
    const repo = await makeFleet('records', { relink: { containers: { 'd2-rec': BUSY() } }, lothric: {} });
    write(join(repo, '.gitignore'), '.man8s/\n');
    write(join(repo, 'hosts/relink/conf/d2-rec/etc/app.conf'), 'v=1\n');
    await commitAll(repo, 'record fleet');
    const overlay = { MAN8S_SANDBOX_OVERLAY: sb.overlayFile };
    const run = (args: string[]) => man8s(repo, [...args, '--sandbox'], '', overlay);

    const dep = await run(['deploy', 'relink', '--yes', '--settle', '1', '--lock-wait', '300']);
    assert.equal(dep.code, 0, dep.stdout + dep.stderr);
    assert.ok(existsSync(join(repo, '.man8s/sandbox/deployed/relink/deployed.yaml')), 'the sandbox record');
    assert.equal(existsSync(join(repo, 'hosts/relink/deployed.yaml')), false, 'nothing in the fleet');
    const head = (await git(repo, ['rev-parse', 'HEAD'])).trim();

    const st = await run(['status', 'relink']);
    assert.equal(st.code, 0, st.stdout + st.stderr);
    assert.match(st.stdout, new RegExp(`^ {2}deployed {4}${head.slice(0, 12)} at \\S+; up to date with HEAD ${head.slice(0, 12)}$`, 'm'));
    assert.equal(lsRow((await run(['ls', 'relink'])).stdout, 'relink', 'd2-rec')[6], 'in sync');

    // Edited on the host after the deploy: ls knows it from the sandbox record (what deploy wrote there).
    await sb.mustRun('relink', ['sh', '-c', 'echo v=edited > /var/lib/man8s/conf/d2-rec/etc/app.conf']);
    const rows = JSON.parse((await run(['ls', 'relink', '--json'])).stdout) as Array<{ name: string; sync: string; reasons: string[] }>;
    const rec = rows.find((r) => r.name === 'd2-rec')!;
    assert.equal(rec.sync, 'files drift');
    assert.ok(rec.reasons.includes('conf/plugin files were edited on the host since man8s deployed them; a deploy overwrites those edits'), rec.reasons.join('\n'));

    // A commit to another host does not put relink behind; one to relink's folder does.
    write(join(repo, 'hosts/lothric/conf/d2-other/container.yaml'), BUSY());
    await commitAll(repo, 'lothric only');
    assert.match((await run(['status', 'relink'])).stdout, /^ {2}deployed {4}\S+ at \S+; up to date with HEAD /m);
    write(join(repo, 'hosts/relink/conf/d2-rec/etc/app.conf'), 'v=2\n');
    await commitAll(repo, 'relink conf');
    const behind = await run(['status', 'relink', '--json']);
    const [s] = JSON.parse(behind.stdout) as Array<{ deployed: { commit: string; changesSince: number } }>;
    assert.deepEqual([s!.deployed.commit, s!.deployed.changesSince], [head, 1]);
    assert.match((await run(['status', 'relink'])).stdout, /; behind HEAD [0-9a-f]{12}: 1 commit changes this host since$/m);
  });
});

describe('doctor and setup', () => {
  let repo: string;
  const host = 'tarrey';

  after(async () => {
    // Give the sandbox back its own man8br (setup made a plain one), whatever the tests left.
    if (!sb) return;
    await sb.run(host, ['docker', 'network', 'rm', 'man8br']);
    await sb.mustRun(host, ['docker', 'network', 'create', '--ipv6', '--subnet', MAN8BR_V4, '--subnet', MAN8BR_V6, '-o', 'com.docker.network.bridge.name=man8br', 'man8br']);
  });

  test('doctor reports a missing network, a wrong yggaddr and missing folders with fixes; setup fixes all three', async () => {
    const wrong = sb.overlay.hosts.lothric!.yggaddr;
    const actual = sb.overlay.hosts[host]!.yggaddr;
    const hostYaml = (addr: string) => `# tarrey: the sandbox host\nssh: ${sb.overlay.hosts[host]!.ssh}   # alias in the sandbox ssh_config\nyggaddr: ${addr}  # from yggdrasilctl getSelf\ntags: [demo, dns]\n`;
    repo = await makeFleet('doctor', { [host]: { hostYaml: hostYaml(wrong) } });
    await sb.mustRun(host, ['docker', 'network', 'rm', 'man8br']);
    await sb.mustRun(host, ['sh', '-c', 'rm -rf /var/lib/man8s/log /var/lib/man8s/socket']);

    const d = await man8s(repo, ['doctor', host]);
    assert.equal(d.code, 1, d.stdout + d.stderr);
    assert.ok(d.stdout.includes(`FAIL  yggdrasil: the host's yggdrasil address is ${actual} but hosts/${host}/host.yaml says yggaddr ${wrong}`), d.stdout);
    assert.ok(d.stdout.includes(`fix: set yggaddr: ${actual} in hosts/${host}/host.yaml (or give the host back the yggdrasil key that had ${wrong}) (man8s setup ${host} writes it into host.yaml)`), d.stdout);
    assert.match(d.stdout, /FAIL {2}network man8br: network man8br is missing\n {8}fix: docker network create -o 'com\.docker\.network\.bridge\.name=man8br' man8br \(man8s setup tarrey does this\)/);
    assert.match(d.stdout, /FAIL {2}storage: missing under \/var\/lib\/man8s: .*log.*socket/);
    assert.match(d.stdout, /ok {4}network man8yggbr: present, IPv6 /);
    assert.match(d.stdout, /ok {4}rsync: installed/);
    assert.doesNotMatch(d.stdout, /ssh user/, 'the sandbox logs in as root');

    const s = await man8s(repo, ['setup', host]);
    assert.equal(s.code, 0, s.stdout + s.stderr);
    assert.match(s.stdout, /fixed network man8br: docker network create/);
    assert.match(s.stdout, /fixed storage: mkdir -p -- /);
    assert.ok(s.stdout.includes(`fixed yggdrasil: wrote yggaddr: ${actual} into hosts/${host}/host.yaml (was ${wrong}), the address the host's yggdrasil has`), s.stdout);
    assert.match(s.stdout, /\ntarrey: ready for Man8S\n/);
    assert.ok(s.stdout.includes(`tarrey: hosts/${host}/host.yaml changed and not committed: every container address on ${host} follows from yggaddr; review it`), s.stdout);
    await sb.mustRun(host, ['docker', 'network', 'inspect', 'man8br']);
    await sb.mustRun(host, ['test', '-d', '/var/lib/man8s/socket']);
    // host.yaml corrected in place, comments and layout kept, left for a person to review and commit.
    assert.equal(readFileSync(join(repo, 'hosts', host, 'host.yaml'), 'utf8'), hostYaml(actual));
    assert.equal(await git(repo, ['status', '--porcelain']), ` M hosts/${host}/host.yaml\n`);

    const fixed = await man8s(repo, ['doctor', host]);
    assert.equal(fixed.code, 0, fixed.stdout);
    assert.match(fixed.stdout, /tarrey: ready for Man8S\n$/);
    const again = await man8s(repo, ['setup', host]);
    assert.equal(again.code, 0, again.stdout);
    assert.match(again.stdout, /tarrey: nothing to do, ready for Man8S\n$/);
  });

  test('under --sandbox the overlay owns yggaddr: setup says so and leaves host.yaml alone', async () => {
    // An overlay that went stale (the host got a new key): it says lothric's address for tarrey.
    const stale = JSON.parse(readFileSync(sb.overlayFile, 'utf8')) as typeof sb.overlay;
    stale.hosts[host]!.yggaddr = sb.overlay.hosts.lothric!.yggaddr;
    const overlayFile = join(repo, '.stale-overlay.json');
    writeFileSync(overlayFile, JSON.stringify(stale));
    const before = readFileSync(join(repo, 'hosts', host, 'host.yaml'), 'utf8');
    const s = await man8s(repo, ['setup', host, '--sandbox'], '', { MAN8S_SANDBOX_OVERLAY: overlayFile });
    assert.equal(s.code, 1, s.stdout + s.stderr);
    assert.ok(s.stdout.includes(`tarrey: --sandbox: yggaddr comes from the sandbox overlay (.stale-overlay.json), not hosts/${host}/host.yaml; left it alone`), s.stdout);
    assert.match(s.stdout, /setup cannot fix yggdrasil; do the fix shown by hand/);
    assert.equal(readFileSync(join(repo, 'hosts', host, 'host.yaml'), 'utf8'), before);
  });
});

describe('import', () => {
  test('deploy → import into an empty repo → render gives the same compose; --dry-run writes nothing', async () => {
    const host = 'lothric';
    const o = sb.overlay.hosts[host]!;
    const name = 'd2-imp';
    const source = await makeFleet('import-src', {
      [host]: { containers: { [name]: BUSY('environment: {A: "1"}\nport: [[8080, 80]]\nmount:\n  conf: {/etc/app: {}}\n  data: {/var/lib/app: {owner: [1000, 1000]}}\n') } },
    });
    write(join(source, `hosts/${host}/conf/${name}/etc/app/app.conf`), 'listen 80\n');
    write(join(source, `hosts/${host}/conf/${name}/etc/app/run.sh`), '#!/bin/sh\necho run\n');
    chmodSync(join(source, `hosts/${host}/conf/${name}/etc/app/run.sh`), 0o755);
    symlinkSync('app.conf', join(source, `hosts/${host}/conf/${name}/etc/app/current.conf`));
    write(join(source, `hosts/${host}/plugin/${name}/hook.txt`), 'plugin\n');
    await commitAll(source, 'content');
    await deployByHand(source, host, name);
    // mbctl's config, where this host keeps it (the sandbox isolates /root, not /etc).
    await sb.mustRun(host, ['sh', '-c', `mkdir -p /root/mbctl && printf 'yggaddr: %s\\nstorage_path: /var/lib/man8s\\n' "$1" > /root/mbctl/config.yaml`, 'x', o.yggaddr]);

    const empty = mkdtempSync(join(tmpdir(), 'man8s-day2-import-dst-'));
    temps.push(empty);
    await git(empty, ['init', '-q']);
    write(join(empty, 'man8s.yaml'), `defaults:\n  ssh_config: ${sb.overlay.sshConfig}\n`);
    await commitAll(empty, 'empty fleet');

    const dry = await man8s(empty, ['import', host, '--ssh', o.ssh, '--mbctl-config', '/root/mbctl/config.yaml', '--dry-run']);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, new RegExp(`would write hosts/${host}/host.yaml:\\n {2}# Imported by man8s import from ${o.ssh}:/root/mbctl/config.yaml\\.\\n {2}ssh: ${o.ssh}\\n {2}yggaddr: ${o.yggaddr.replace(/:/g, ':')}\\n {2}engine: docker\\n`));
    assert.match(dry.stdout, new RegExp(`hosts/${host}/conf/${name}/etc/app/app\\.conf`));
    assert.match(dry.stdout, new RegExp(`hosts/${host}/plugin/${name}/hook\\.txt`));
    assert.equal(existsSync(join(empty, 'hosts', host)), false);
    assert.equal(existsSync(join(empty, 'hosts', `.${host}.import-dry-run`)), false);

    const imp = await man8s(empty, ['import', host, '--ssh', o.ssh, '--mbctl-config', '/root/mbctl/config.yaml']);
    assert.equal(imp.code, 0, imp.stdout + imp.stderr);
    assert.match(imp.stdout, new RegExp(`imported ${host} into hosts/${host}: 1 container \\(${name}\\), \\d+ files; committed [0-9a-f]{12}`));
    assert.equal(await git(empty, ['status', '--porcelain']), '');
    assert.match(await git(empty, ['log', '-1', '--format=%s']), new RegExp(`man8s import ${host}`));
    const dir = join(empty, 'hosts', host);
    assert.equal(readFileSync(join(dir, `conf/${name}/etc/app/app.conf`), 'utf8'), 'listen 80\n');
    assert.equal(readlinkSync(join(dir, `conf/${name}/etc/app/current.conf`)), 'app.conf');
    assert.ok(statSync(join(dir, `conf/${name}/etc/app/run.sh`)).mode & 0o100);
    assert.equal(readFileSync(join(dir, `plugin/${name}/hook.txt`), 'utf8'), 'plugin\n');

    const want = await man8s(source, ['render', host, name]);
    const got = await man8s(empty, ['render', host, name]);
    assert.equal(want.code, 0, want.stderr);
    assert.equal(got.code, 0, got.stderr);
    assert.equal(got.stdout, want.stdout);
    // …and the imported fleet sees the host in sync with itself.
    assert.equal(lsRow((await man8s(empty, ['ls', host])).stdout, host, name)[6], 'in sync');

    const twice = await man8s(empty, ['import', host, '--ssh', o.ssh]);
    assert.equal(twice.code, 1);
    assert.match(twice.stderr, new RegExp(`hosts/${host} already exists: import only adds new hosts`));
  });
});
