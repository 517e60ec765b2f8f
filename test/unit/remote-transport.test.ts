/**
 * Integration: the transport, rsync push, observe and lock against a REAL OpenSSH sshd on 127.0.0.1.
 * No sshd → startSshd throws and these tests fail (they never skip).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSshd, type TestSshd } from '../support/sshd.js';
import { Connection, connectHost, type TransportEvent } from '../../src/remote/transport.js';
import { resolveHost } from '../../src/remote/ssh-config.js';
import { fingerprintSha256 } from '../../src/remote/known-hosts.js';
import { makeFolderSkeleton, mountFoldersInTrees, pushTreesArgv, runRsync } from '../../src/remote/rsync.js';
import { lockAndObserveHost, observeHost } from '../../src/remote/observe.js';
import { newLockHolder, parseLockResponse, readLockCommand, takeLockCommand } from '../../src/remote/lock.js';
import { UserError } from '../../src/errors.js';
import { HostFailure, openHost } from '../../src/apply/hosts.js';
import type { HostSpec } from '../../src/fleet/model.js';

let sshd: TestSshd;
let conn: Connection;
const events: TransportEvent[] = [];

before(async () => {
  sshd = await startSshd();
  conn = await connectHost('sshd-test', { host: 'testhost', configFile: sshd.configFile, logger: (e) => events.push(e) });
});

after(async () => {
  await conn?.close();
  await sshd?.stop();
});

/** A second ssh config whose known_hosts is `knownHosts` (content given), for host key tests. */
function configWithKnownHosts(content: string | undefined, extra: string[] = []): { config: string; knownHosts: string } {
  const dir = mkdtempSync(join(tmpdir(), 'man8s-kh-'));
  const knownHosts = join(dir, 'known_hosts');
  if (content !== undefined) writeFileSync(knownHosts, content);
  const config = join(dir, 'config');
  writeFileSync(
    config,
    readFileSync(sshd.configFile, 'utf8').replace(/UserKnownHostsFile .*/, `UserKnownHostsFile ${knownHosts}`) + extra.join('\n') + '\n',
  );
  return { config, knownHosts };
}

test('argv round-trips nasty arguments exactly; exit codes and stderr come back', async () => {
  const nasty = ['$(id)', '`id`', "a'b", 'x; rm -rf /', '*', '~root', '-n', 'new\nline', '', 'FOO=1', 'ü €', '\\', '"q"'];
  const r = await conn.run(['printf', '%s\\0', ...nasty]);
  assert.equal(r.code, 0);
  assert.deepEqual(r.stdout.split('\0').slice(0, -1), nasty);
  const failing = await conn.run(['sh', '-c', 'echo out; echo err >&2; exit 42']);
  assert.deepEqual(failing, { code: 42, stdout: 'out\n', stderr: 'err\n' });
  await assert.rejects(conn.check(['sh', '-c', 'echo boom >&2; exit 2'], 'the test step'), /^UserError: testhost: the test step failed \(exit 2\): boom$/);
});

test('stdin, cwd, runScript with argv, raw bytes', async () => {
  const input = Buffer.from([0, 1, 2, 255, 10, 13]);
  const raw = await conn.runRaw(['cat'], { stdin: input });
  assert.deepEqual(raw.stdout, input);
  assert.equal((await conn.run(['pwd'], { cwd: '/tmp' })).stdout, '/tmp\n');
  const s = await conn.runScript('printf "[%s]" "$@"; echo; echo "n=$#"', ['a b', "c'd", '']);
  assert.equal(s.stdout, "[a b][c'd][]\nn=3\n");
});

test('a timeout stops the remote command and names host, command and timeout', async () => {
  const marker = join(sshd.dir, 'should-not-exist');
  await assert.rejects(conn.run(['sh', '-c', `sleep 2; touch ${marker}`], { timeoutMs: 300 }), (e: Error) => {
    assert.ok(e instanceof UserError);
    assert.match(e.message, /^testhost: `sh -c 'sleep 2; touch .*'` did not finish within 0\.3s and was stopped/);
    return true;
  });
  await new Promise((r) => setTimeout(r, 2300));
  assert.equal(existsSync(marker), false, 'the remote process was killed');
  assert.equal((await conn.run(['true'])).code, 0, 'the connection is still usable');
});

test('at most 8 channels at once on one connection; all commands complete', async () => {
  // Each command registers itself in a folder and waits at a barrier until 8 are registered at once
  // (sshd opens sessions one after another, so reaching 8 takes a while under load: the wait is
  // generous), then keeps counting a little longer. The count of registered commands is the count of
  // open channels, so its maximum must be exactly 8: never more (the limit), and 8 (in parallel).
  const dir = mkdtempSync(join(tmpdir(), 'man8s-chan-'));
  const script = [
    'd=$1; touch "$d/$$"; max=0',
    'count() { n=$(ls "$d" | grep -c "^[0-9]"); [ "$n" -gt "$max" ] && max=$n; }',
    'i=0; while [ ! -e "$d/go" ] && [ $i -lt 600 ]; do count; [ "$max" -ge 8 ] && touch "$d/go"; sleep 0.05; i=$((i + 1)); done',
    'j=0; while [ $j -lt 6 ]; do count; sleep 0.05; j=$((j + 1)); done',
    'rm "$d/$$"; echo "$max"',
  ].join('\n');
  const before = conn.stats().commands;
  const results = await Promise.all(Array.from({ length: 20 }, () => conn.run(['sh', '-c', script, 'chan', dir])));
  assert.deepEqual(results.map((r) => r.code), Array(20).fill(0));
  const counts = results.map((r) => Number(r.stdout.trim()));
  assert.equal(Math.max(...counts), 8, `most channels open at once, as each command saw it: ${counts.join(',')}`);
  assert.equal(conn.stats().commands - before, 20);
});

test('stats count one connection, commands and bytes; the logger sees commands and output', async () => {
  const c = await connectHost('sshd-test', { host: 'statshost', configFile: sshd.configFile });
  const s0 = c.stats();
  assert.equal(s0.connections, 1);
  assert.equal(s0.commands, 0);
  await c.run(['true']);
  await c.run(['head', '-c', '100000', '/dev/zero']);
  const s1 = c.stats();
  assert.equal(s1.commands, 2);
  assert.ok(s1.bytesReceived > s0.bytesReceived + 1000, 'compressed or not, output bytes arrive');
  assert.ok(s1.bytesSent > s0.bytesSent);
  c.recordExternal({ connections: 1, bytesSent: 10, bytesReceived: 20 });
  assert.equal(c.stats().connections, 2);
  await c.close();
  const done = c.stats();
  assert.ok(done.seconds > 0);
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(c.stats().seconds, done.seconds, 'seconds stop at close');
  const cmd = events.find((e) => e.kind === 'result' && e.command.startsWith('printf'));
  assert.ok(cmd && cmd.kind === 'result' && cmd.code === 0);
});

test('stats seconds count from before connecting; a host that cannot be reached still has stats', async () => {
  const t0 = Date.now();
  const c = await connectHost('sshd-test', { host: 'timed', configFile: sshd.configFile });
  const connecting = Date.now() - t0;
  const s = c.stats();
  await c.close();
  assert.ok(s.seconds * 1000 >= connecting - 2, `seconds ${s.seconds} include the ${connecting} ms of resolving and handshake`);

  const host = { name: 'gone', settings: { ssh: `${sshd.user}@127.0.0.1:1`, ssh_config: sshd.configFile } } as unknown as HostSpec;
  await assert.rejects(openHost(host), (e: Error) => {
    assert.ok(e instanceof HostFailure);
    assert.match(e.message, /^gone: cannot connect to .*\(ECONNREFUSED\)/);
    assert.equal(e.stats.host, 'gone');
    assert.deepEqual([e.stats.connections, e.stats.commands, e.stats.bytesSent, e.stats.bytesReceived], [0, 0, 0, 0]);
    assert.ok(e.stats.seconds > 0);
    return true;
  });
});

test('streaming delivers output as it comes; abort stops it', async () => {
  const chunks: string[] = [];
  const code = await conn.stream(['sh', '-c', 'echo one; sleep 0.1; echo two >&2; exit 5'], {
    onStdout: (c) => chunks.push(`out:${c}`),
    onStderr: (c) => chunks.push(`err:${c}`),
  });
  assert.equal(code, 5);
  assert.deepEqual(chunks, ['out:one\n', 'err:two\n']);
  const ac = new AbortController();
  const started = Date.now();
  const p = conn.stream(['sh', '-c', 'while true; do echo tick; sleep 0.05; done'], { signal: ac.signal, onStdout: () => ac.abort() });
  await p;
  assert.ok(Date.now() - started < 3000);
  const pty = await conn.stream(['sh', '-c', 'test -t 0 && echo tty'], { pty: true, onStdout: (c) => chunks.push(String(c)) });
  assert.equal(pty, 0);
});

test('unknown host key: refused with its fingerprint, unless accepted, then recorded (plain and hashed)', async () => {
  const fp = fingerprintSha256(Buffer.from(sshd.hostKeyPub.split(' ')[1]!, 'base64'));
  const { config, knownHosts } = configWithKnownHosts(undefined);
  await assert.rejects(connectHost('sshd-test', { host: 'newhost', configFile: config }), (e: Error) => {
    assert.ok(e instanceof UserError);
    assert.equal(
      e.message,
      `newhost: unknown host key for [127.0.0.1]:${sshd.port} (ssh-ed25519 ${fp}); verify the fingerprint, then run again with --accept-new-host-keys to record it in ${knownHosts} (or add it with ssh-keyscan)`,
    );
    return true;
  });
  assert.equal(existsSync(knownHosts), false);
  const c = await connectHost('sshd-test', { host: 'newhost', configFile: config, acceptNewHostKeys: true });
  assert.equal((await c.run(['echo', 'ok'])).stdout, 'ok\n');
  await c.close();
  assert.equal(readFileSync(knownHosts, 'utf8'), `[127.0.0.1]:${sshd.port} ${sshd.hostKeyPub.split(' ').slice(0, 2).join(' ')}\n`);
  // Now OpenSSH itself trusts it.
  execFileSync('ssh', ['-F', config, '-o', 'BatchMode=yes', 'sshd-test', 'true']);
  // And a second connect needs no flag.
  await (await connectHost('sshd-test', { host: 'newhost', configFile: config })).close();

  const hashed = configWithKnownHosts(undefined, ['  HashKnownHosts yes']);
  writeFileSync(hashed.config, readFileSync(hashed.config, 'utf8').replace('HashKnownHosts no', 'HashKnownHosts yes'));
  await (await connectHost('sshd-test', { host: 'newhost', configFile: hashed.config, acceptNewHostKeys: true })).close();
  assert.match(readFileSync(hashed.knownHosts, 'utf8'), /^\|1\|[^ ]+ ssh-ed25519 /);
  execFileSync('ssh', ['-F', hashed.config, '-o', 'BatchMode=yes', 'sshd-test', 'true']);
});

test('changed host key: always refused, with both fingerprints and the ssh-keygen -R fix', async () => {
  const [type, other] = sshd.otherHostKeyPub.split(' ');
  const { config, knownHosts } = configWithKnownHosts(`[127.0.0.1]:${sshd.port} ${type} ${other}\n`);
  const presented = fingerprintSha256(Buffer.from(sshd.hostKeyPub.split(' ')[1]!, 'base64'));
  const known = fingerprintSha256(Buffer.from(other!, 'base64'));
  for (const acceptNewHostKeys of [false, true]) {
    await assert.rejects(connectHost('sshd-test', { host: 'relink', configFile: config, acceptNewHostKeys }), (e: Error) => {
      assert.ok(e instanceof UserError);
      assert.equal(
        e.message,
        `relink: HOST KEY CHANGED for [127.0.0.1]:${sshd.port}: it presented ssh-ed25519 ${presented}, known_hosts has ${knownHosts}:1 ssh-ed25519 ${known}. ` +
          `This may be an attack; if the host was really reinstalled, remove the old key with ssh-keygen -R '[127.0.0.1]:${sshd.port}' -f ${knownHosts} and connect again with --accept-new-host-keys`,
      );
      return true;
    });
  }
  assert.equal(readFileSync(knownHosts, 'utf8').split('\n').length, 2, 'known_hosts untouched');
  const revoked = configWithKnownHosts(`@revoked * ${sshd.hostKeyPub}\n[127.0.0.1]:${sshd.port} ${sshd.hostKeyPub}\n`);
  await assert.rejects(connectHost('sshd-test', { host: 'relink', configFile: revoked.config }), /relink: the host key of .* is marked @revoked/);
});

test('auth failure and unreachable host are UserErrors naming the host and the fix', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'man8s-auth-'));
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'wrong')]);
  const config = join(dir, 'config');
  writeFileSync(config, readFileSync(sshd.configFile, 'utf8').replace(/IdentityFile .*/, `IdentityFile ${join(dir, 'wrong')}`));
  await assert.rejects(connectHost('sshd-test', { host: 'relink', configFile: config }), (e: Error) => {
    assert.ok(e instanceof UserError);
    assert.match(e.message, new RegExp(`^relink: ssh authentication failed for ${sshd.user}@127\\.0\\.0\\.1:${sshd.port} \\(tried ${join(dir, 'wrong')}\\); add your public key`));
    return true;
  });
  const closed = await resolveHost(`${sshd.user}@127.0.0.1:1`, { configFile: sshd.configFile });
  await assert.rejects(Connection.open(closed, { host: 'gone' }), /^UserError: gone: cannot connect to .*@127\.0\.0\.1:1 \(ECONNREFUSED\); check the host is up/);
});

/** A real ssh-agent on its own socket, holding `keys` (private key files; passphrase via askpass). */
async function startAgent(t: { after(fn: () => void): void }, keys: Array<{ file: string; passphrase?: string }>): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'man8s-agent-'));
  const socket = join(dir, 'agent.sock');
  const agent = spawn('ssh-agent', ['-D', '-a', socket], { stdio: 'ignore' });
  t.after(() => agent.kill());
  for (let i = 0; i < 100 && !existsSync(socket); i++) await new Promise((r) => setTimeout(r, 20));
  for (const k of keys) {
    const askpass = join(dir, 'askpass');
    writeFileSync(askpass, `#!/bin/sh\necho '${k.passphrase ?? ''}'\n`, { mode: 0o755 });
    execFileSync('ssh-add', ['-q', k.file], { env: { ...process.env, SSH_AUTH_SOCK: socket, SSH_ASKPASS: askpass, SSH_ASKPASS_REQUIRE: 'force' }, stdio: ['ignore', 'ignore', 'pipe'] });
  }
  return socket;
}

test('IdentitiesOnly: only the IdentityFile keys are offered, from the agent when it holds them; too many keys is a clear error', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'man8s-ids-'));
  // Seven keys the host does not accept: more than sshd's MaxAuthTries (6).
  const wrong = Array.from({ length: 7 }, (_, i) => join(dir, `wrong${i}`));
  for (const f of wrong) execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', f]);
  const socket = await startAgent(t, wrong.map((file) => ({ file })));
  const base = readFileSync(sshd.configFile, 'utf8');
  const config = (identitiesOnly: boolean, identityFile = sshd.clientKey) => {
    const file = join(dir, `config-${identitiesOnly}-${identityFile.length}`);
    writeFileSync(file, base.replace('IdentitiesOnly yes', `IdentitiesOnly ${identitiesOnly ? 'yes' : 'no'}`).replace('IdentityAgent none', `IdentityAgent ${socket}`).replace(/IdentityFile .*/, `IdentityFile ${identityFile}`));
    return file;
  };
  // Without IdentitiesOnly every agent key goes first, as OpenSSH does, and sshd gives up.
  await assert.rejects(connectHost('sshd-test', { host: 'relink', configFile: config(false) }), (e: Error) => {
    assert.ok(e instanceof UserError);
    assert.match(e.message, new RegExp(`^relink: ${sshd.user}@127\\.0\\.0\\.1:${sshd.port} closed the connection: too many authentication failures \\(tried ssh-agent \\(7 keys\\)\\); .*set IdentitiesOnly yes and the right IdentityFile`));
    return true;
  });
  // With it, only the identity file is offered.
  const c = await connectHost('sshd-test', { host: 'relink', configFile: config(true) });
  assert.equal((await c.run(['echo', 'ok'])).stdout, 'ok\n');
  await c.close();

  // An identity file with a passphrase, loaded into the agent: used through the agent, found by its .pub.
  const locked = join(dir, 'locked');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'secret words', '-f', locked]);
  writeFileSync(join(sshd.dir, 'authorized_keys'), readFileSync(`${locked}.pub`), { flag: 'a' });
  const withLocked = await startAgent(t, [...wrong.map((file) => ({ file })), { file: locked, passphrase: 'secret words' }]);
  const lockedConfig = join(dir, 'config-locked');
  writeFileSync(lockedConfig, readFileSync(config(true, locked), 'utf8').replace(socket, withLocked));
  const viaAgent = await connectHost('sshd-test', { host: 'relink', configFile: lockedConfig });
  assert.equal((await viaAgent.run(['echo', 'agent'])).stdout, 'agent\n');
  await viaAgent.close();
});

test('ProxyJump: through the jump host with forwardOut, both host keys verified, 2 connections', async () => {
  const { config } = configWithKnownHosts(
    `[127.0.0.1]:${sshd.port} ${sshd.hostKeyPub}\n`,
    ['Host behind', '  HostName 127.0.0.1', `  Port ${sshd.port}`, `  User ${sshd.user}`, `  IdentityFile ${sshd.clientKey}`, '  ProxyJump sshd-test', `  UserKnownHostsFile ${join(sshd.dir, 'known_hosts')}`],
  );
  const c = await connectHost('behind', { host: 'behind', configFile: config });
  assert.deepEqual(c.resolved.proxyJump, ['sshd-test']);
  assert.equal((await c.run(['echo', 'via jump'])).stdout, 'via jump\n');
  assert.equal(c.stats().connections, 2);
  await c.close();
});

test('rsync push: changed files backed up, delete confined to listed folders, symlinks kept, itemized', async () => {
  const root = mkdtempSync(join(tmpdir(), 'man8s-push-'));
  const local = join(root, 'repo', 'hosts', 'relink');
  const sp = join(root, 'host', 'man8s');
  const backup = join(root, 'host', 'man8s-state', 'backup', 'd1');
  const put = (p: string, content: string) => {
    mkdirSync(join(p, '..'), { recursive: true });
    writeFileSync(p, content);
  };
  put(join(local, 'host.yaml'), 'yggaddr: x\n');
  put(join(local, 'conf', 'web', 'container.yaml'), 'image: nginx\n');
  put(join(local, 'conf', 'web', 'etc', 'nginx', 'sites-available', 'site'), 'new site\n');
  mkdirSync(join(local, 'conf', 'web', 'etc', 'nginx', 'sites-enabled'));
  symlinkSync('../sites-available/site', join(local, 'conf', 'web', 'etc', 'nginx', 'sites-enabled', 'site'));
  put(join(local, 'conf', 'web', 'same'), 'same\n');
  put(join(local, 'plugin', 'web', 'p.sh'), 'echo\n');
  put(join(local, 'conf', 'notlisted', 'x'), 'should not travel\n');

  put(join(sp, 'conf', 'web', 'etc', 'nginx', 'sites-available', 'site'), 'old site\n');
  put(join(sp, 'conf', 'web', 'same'), 'same\n');
  put(join(sp, 'conf', 'web', 'removed.conf'), 'gone from git\n');
  put(join(sp, 'conf', 'web', 'etc', 'postgresql', 'made-on-host'), 'protected\n');
  put(join(sp, 'conf', 'unmanaged', 'keep'), 'not ours\n');
  put(join(sp, 'data', 'web', 'db'), 'data\n');
  put(join(sp, 'log', 'web', 'l'), 'log\n');

  const resolved = await resolveHost('sshd-test', { configFile: sshd.configFile });
  const argv = pushTreesArgv({
    host: resolved,
    localDir: local,
    storagePath: sp,
    trees: [
      { type: 'conf', name: 'web' },
      { type: 'plugin', name: 'web' },
    ],
    backupDir: backup,
    protect: ['conf/web/etc/postgresql'],
  });
  const r = await runRsync(argv, { label: 'relink' });
  const changes = r.items.map((i) => `${i.action} ${i.path}${i.target ? ` -> ${i.target}` : ''}`).sort();
  assert.deepEqual(changes, [
    'content conf/web/etc/nginx/sites-available/site',
    'created conf/web/container.yaml',
    'created conf/web/etc/nginx/sites-enabled',
    'created conf/web/etc/nginx/sites-enabled/site -> ../sites-available/site',
    'created plugin',
    'created plugin/web',
    'created plugin/web/p.sh',
    'deleted conf/web/removed.conf',
  ]);
  assert.ok(r.stats.bytesSent! > 0);
  assert.equal(readFileSync(join(sp, 'conf', 'web', 'etc', 'nginx', 'sites-available', 'site'), 'utf8'), 'new site\n');
  assert.equal(readFileSync(join(backup, 'conf', 'web', 'etc', 'nginx', 'sites-available', 'site'), 'utf8'), 'old site\n');
  assert.equal(readFileSync(join(backup, 'conf', 'web', 'removed.conf'), 'utf8'), 'gone from git\n');
  assert.equal(existsSync(join(backup, 'conf', 'web', 'same')), false, 'unchanged files are not backed up');
  assert.equal(readlinkSync(join(sp, 'conf', 'web', 'etc', 'nginx', 'sites-enabled', 'site')), '../sites-available/site');
  assert.ok(lstatSync(join(sp, 'conf', 'web', 'etc', 'nginx', 'sites-enabled', 'site')).isSymbolicLink());
  assert.equal(readFileSync(join(sp, 'conf', 'unmanaged', 'keep'), 'utf8'), 'not ours\n');
  assert.equal(readFileSync(join(sp, 'conf', 'web', 'etc', 'postgresql', 'made-on-host'), 'utf8'), 'protected\n');
  assert.equal(readFileSync(join(sp, 'data', 'web', 'db'), 'utf8'), 'data\n');
  assert.equal(existsSync(join(sp, 'conf', 'notlisted')), false);
  assert.equal(existsSync(join(sp, 'host.yaml')), false);

  // A second push with nothing changed reports nothing (a fresh checkout's mtimes do not matter).
  execFileSync('touch', [join(local, 'conf', 'web', 'same')]);
  const again = await runRsync(pushTreesArgv({ host: resolved, localDir: local, storagePath: sp, trees: [{ type: 'conf', name: 'web' }], backupDir: `${backup}2`, protect: ['conf/web/etc/postgresql'] }), { label: 'relink' });
  assert.deepEqual(again.items, []);
});

test('rsync push keeps mount folders git cannot store (owner, mode), still cleaning inside them', async () => {
  const root = mkdtempSync(join(tmpdir(), 'man8s-skel-'));
  const local = join(root, 'repo', 'hosts', 'relink');
  const sp = join(root, 'host', 'man8s');
  mkdirSync(join(local, 'conf', 'app', 'etc'), { recursive: true });
  writeFileSync(join(local, 'conf', 'app', 'etc', 'app.conf'), 'v2\n');
  // On the host: the mount folder /etc/app → conf/app/etc/app as mount preparation made it (perm 750),
  // with a file git does not have, and a folder that is no mount.
  mkdirSync(join(sp, 'conf', 'app', 'etc', 'app'), { recursive: true });
  chmodSync(join(sp, 'conf', 'app', 'etc', 'app'), 0o750);
  writeFileSync(join(sp, 'conf', 'app', 'etc', 'app', 'stale'), 'not in git\n');
  mkdirSync(join(sp, 'conf', 'app', 'leftover'));
  const resolved = await resolveHost('sshd-test', { configFile: sshd.configFile });
  const trees = [{ type: 'conf' as const, name: 'app' }];
  const folders = mountFoldersInTrees(sp, [{ source: join(sp, 'conf', 'app', 'etc', 'app'), file: false }], trees);
  assert.deepEqual(folders, ['conf/app/etc/app']);
  const skeleton = await makeFolderSkeleton(folders);
  try {
    const r = await runRsync(pushTreesArgv({ host: resolved, localDir: local, storagePath: sp, trees, backupDir: join(root, 'backup'), skeletonDir: skeleton.dir }), { label: 'relink' });
    assert.deepEqual(r.items.map((i) => `${i.action} ${i.path}`).sort(), ['created conf/app/etc/app.conf', 'deleted conf/app/etc/app/stale', 'deleted conf/app/leftover']);
  } finally {
    await skeleton.remove();
  }
  assert.equal(existsSync(skeleton.dir), false);
  assert.equal(lstatSync(join(sp, 'conf', 'app', 'etc', 'app')).mode & 0o777, 0o750, 'the mount folder and its mode stay');
  assert.equal(existsSync(join(sp, 'conf', 'app', 'etc', 'app', 'stale')), false);
  assert.equal(existsSync(join(sp, 'conf', 'app', 'leftover')), false);
});

test('rsync gives up on a host that stops answering, naming the host', async () => {
  const root = mkdtempSync(join(tmpdir(), 'man8s-dead-'));
  mkdirSync(join(root, 'local', 'conf', 'app'), { recursive: true });
  writeFileSync(join(root, 'local', 'conf', 'app', 'x'), 'x\n');
  const resolved = await resolveHost('sshd-test', { configFile: sshd.configFile });
  const argv = pushTreesArgv({ host: resolved, localDir: join(root, 'local'), storagePath: join(root, 'host'), trees: [{ type: 'conf', name: 'app' }], backupDir: join(root, 'b'), ioTimeoutSec: 2 });
  // The remote side never speaks: what a host that froze mid-deploy looks like from here.
  const silent = [...argv.slice(0, 1), '--rsync-path=sleep 30; rsync', ...argv.slice(1)];
  const started = Date.now();
  await assert.rejects(runRsync(silent, { label: 'relink' }), (e: Error) => {
    assert.ok(e instanceof UserError);
    assert.match(e.message, /^relink: rsync failed \(exit 30: timeout\).*the connection to relink went dead/);
    return true;
  });
  assert.ok(Date.now() - started < 15_000, `gave up after ${Date.now() - started} ms`);
});

test('observe through sshd: one command returns the tree; lock state from the host', async () => {
  const root = mkdtempSync(join(tmpdir(), 'man8s-obs-'));
  const sp = join(root, 'man8s');
  mkdirSync(join(sp, 'conf', 'web'), { recursive: true });
  writeFileSync(join(sp, 'conf', 'web', 'a b'), 'x');
  const before = conn.stats().commands;
  const o = await observeHost(conn, { storagePath: sp, engine: 'nerdctl', lockDir: join(root, 'lock') });
  assert.equal(conn.stats().commands - before, 1, 'one remote command');
  assert.deepEqual(o.trees.conf, { web: [{ path: 'a b', kind: 'file', mode: 0o644, size: 1, sha256: '2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881' }] });
  assert.equal(o.engine.kind, 'nerdctl');
  assert.equal(o.lock.status, 'free');

  // A deploy takes its lock and observes in the same one command; a second deploy observes nothing.
  const lockDir = join(root, 'lock');
  const a = newLockHolder({ host: 'testhost', who: 'a@laptop' });
  const n = conn.stats().commands;
  const first = await lockAndObserveHost(conn, { storagePath: sp, engine: 'nerdctl', lockDir }, a);
  assert.equal(conn.stats().commands - n, 1, 'one remote command');
  assert.equal(first.lock.status, 'taken');
  assert.deepEqual(first.observed?.trees.conf, o.trees.conf);
  assert.equal(first.observed?.lock.status, 'held');
  assert.equal(first.observed?.lock.holder?.token, a.token);
  const second = await lockAndObserveHost(conn, { storagePath: sp, engine: 'nerdctl', lockDir }, newLockHolder({ host: 'testhost', who: 'b@ci' }));
  assert.equal(second.lock.status, 'held');
  assert.equal(second.lock.holder?.who, 'a@laptop');
  assert.equal(second.observed, undefined);
  assert.equal(JSON.parse(readFileSync(join(lockDir, 'holder.json'), 'utf8')).token, a.token, 'the holder keeps it');
});

test('lock through sshd: a holder whose ssh session is gone is stale and taken over', async () => {
  const dir = join(mkdtempSync(join(tmpdir(), 'man8s-rlock-')), 'man8s');
  const first = await connectHost('sshd-test', { host: 'relink', configFile: sshd.configFile });
  const a = newLockHolder({ host: 'relink', who: 'a@laptop' });
  const taken = await first.runCommand(takeLockCommand(a, { dir }));
  assert.equal(parseLockResponse(taken.stdout).status, 'taken');
  assert.match(readFileSync(join(dir, 'session'), 'utf8'), /^[1-9]\d* \d+\n$/, 'the sshd session pid was found');

  const b = newLockHolder({ host: 'relink', who: 'b@ci' });
  const held = await conn.runCommand(takeLockCommand(b, { dir }));
  assert.equal(held.code, 3);
  assert.equal(parseLockResponse(held.stdout).reason, 'session-alive');

  await first.close();
  await new Promise((r) => setTimeout(r, 300)); // sshd notices the closed connection
  const state = parseLockResponse((await conn.runCommand(readLockCommand({ dir }))).stdout);
  assert.equal(state.status, 'stale');
  assert.equal(state.reason, 'session-gone');
  const over = parseLockResponse((await conn.runCommand(takeLockCommand(b, { dir }))).stdout);
  assert.equal(over.status, 'took-over');
  assert.equal(over.holder?.who, 'a@laptop');
});
