import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseDestination, parseSshG, resolveHost, sshGArgs } from '../../src/remote/ssh-config.js';
import { UserError } from '../../src/errors.js';

test('destinations: alias, user@host:port, bracketed and bare IPv6 (ygg addresses)', () => {
  assert.deepEqual(parseDestination('relink'), { host: 'relink' });
  assert.deepEqual(parseDestination('root@relink:2222'), { host: 'relink', user: 'root', port: 2222 });
  assert.deepEqual(parseDestination('root@[200:7547::1]:22'), { host: '200:7547::1', user: 'root', port: 22 });
  assert.deepEqual(parseDestination('200:7547:78fb:902a:9a09:9bff:f966:89a7'), { host: '200:7547:78fb:902a:9a09:9bff:f966:89a7' });
  assert.deepEqual(parseDestination('ops@200:7547::1'), { host: '200:7547::1', user: 'ops' });
  assert.throws(() => parseDestination('-oProxyCommand=x'), UserError);
  assert.throws(() => parseDestination('host:abc'), /invalid port/);
  assert.throws(() => parseDestination('host:70000'), /invalid port 70000/);
  assert.throws(() => parseDestination('@host'), UserError);
});

test('ssh -G argv translates user and port into -l/-p and passes the config file', () => {
  assert.deepEqual(sshGArgs('root@relink:2222', '/tmp/cfg'), ['-G', '-F', '/tmp/cfg', '-l', 'root', '-p', '2222', 'relink']);
  assert.deepEqual(sshGArgs('relink'), ['-G', 'relink']);
});

const G_OUTPUT = `host relink
user root
hostname 10.0.0.5
port 2222
identityfile ~/.ssh/id_rsa
identityfile ~/.ssh/id_ed25519
identityfile %d/.ssh/id_%r_%h
identitiesonly no
proxyjump bastion,ops@jump2:2200
userknownhostsfile /home/me/.ssh/known_hosts /home/me/.ssh/known_hosts2
globalknownhostsfile /etc/ssh/ssh_known_hosts /etc/ssh/ssh_known_hosts2
stricthostkeychecking accept-new
hashknownhosts yes
serveraliveinterval 30
serveralivecountmax 4
connecttimeout 7
`;

test('parseSshG: expands ~ and tokens, drops missing identity files, reads every field', () => {
  const existing = new Set(['/home/me/.ssh/id_ed25519', '/home/me/.ssh/id_root_10.0.0.5']);
  const r = parseSshG(
    G_OUTPUT,
    'relink',
    { home: '/home/me', localUser: 'me', exists: (p) => existing.has(p), env: { SSH_AUTH_SOCK: '/tmp/agent.sock' } },
    '/tmp/cfg',
  );
  assert.deepEqual(r, {
    destination: 'relink',
    alias: 'relink',
    hostname: '10.0.0.5',
    user: 'root',
    port: 2222,
    identityFiles: ['/home/me/.ssh/id_ed25519', '/home/me/.ssh/id_root_10.0.0.5'],
    identitiesOnly: false,
    agentSocket: '/tmp/agent.sock',
    proxyJump: ['bastion', 'ops@jump2:2200'],
    userKnownHostsFiles: ['/home/me/.ssh/known_hosts', '/home/me/.ssh/known_hosts2'],
    globalKnownHostsFiles: ['/etc/ssh/ssh_known_hosts', '/etc/ssh/ssh_known_hosts2'],
    strictHostKeyChecking: 'accept-new',
    hashKnownHosts: true,
    serverAliveInterval: 30,
    serverAliveCountMax: 4,
    connectTimeout: 7,
    configFile: '/tmp/cfg',
  });
});

test('parseSshG: IdentityAgent none disables the agent; no ProxyJump means direct', () => {
  const r = parseSshG('hostname h\nuser u\nport 22\nidentityagent none\nconnecttimeout none\n', 'h', {
    home: '/h',
    localUser: 'u',
    exists: () => true,
    env: { SSH_AUTH_SOCK: '/tmp/a' },
  });
  assert.equal(r.agentSocket, undefined);
  assert.deepEqual(r.proxyJump, []);
  assert.equal(r.connectTimeout, undefined);
});

test('resolveHost runs the real ssh -G with a config file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'man8s-sshg-'));
  const cfg = join(dir, 'config');
  writeFileSync(cfg, `Host web\n  HostName 192.0.2.7\n  Port 2200\n  User deploy\n  IdentityFile ${dir}/key\n  ProxyJump gw\n`);
  writeFileSync(join(dir, 'key'), 'x');
  const r = await resolveHost('web', { configFile: cfg });
  assert.equal(r.hostname, '192.0.2.7');
  assert.equal(r.port, 2200);
  assert.equal(r.user, 'deploy');
  assert.deepEqual(r.identityFiles, [join(dir, 'key')]);
  assert.deepEqual(r.proxyJump, ['gw']);
  const over = await resolveHost('other@web:2300', { configFile: cfg });
  assert.equal(over.user, 'other');
  assert.equal(over.port, 2300);
  await assert.rejects(resolveHost('web', { configFile: join(dir, 'missing'), hostName: 'relink' }), (e: Error) => {
    assert.ok(e instanceof UserError);
    assert.match(e.message, /^relink: ssh could not resolve "web"/);
    return true;
  });
});
