/**
 * A real OpenSSH server on 127.0.0.1 and a random port, for transport/rsync/observe tests: its own host
 * key, client key, authorized_keys, known_hosts and an ssh config file naming it `sshd-test`.
 * No sshd on the machine → start() throws, so the tests fail instead of skipping.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';

export interface TestSshd {
  dir: string;
  port: number;
  user: string;
  /** ssh config file with `Host sshd-test` (pass as configFile). */
  configFile: string;
  /** The config's UserKnownHostsFile (holds the server key unless started with trusted: false). */
  knownHosts: string;
  clientKey: string;
  hostKeyPub: string;
  /** Public key line of a second, different host key (for "changed key" tests). */
  otherHostKeyPub: string;
  /** sshd's stderr so far (LogLevel ERROR), for failure messages. */
  log(): string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (typeof a === 'object' && a ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

async function waitForPort(port: number, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`sshd exited with ${child.exitCode}: ${log()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const c = connect(port, '127.0.0.1');
      c.once('connect', () => {
        c.destroy();
        resolve(true);
      });
      c.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`sshd did not listen on ${port}: ${log()}`);
}

export async function startSshd(o: { maxSessions?: number; hashKnownHosts?: boolean } = {}): Promise<TestSshd> {
  const sshd = ['/usr/sbin/sshd', '/usr/local/sbin/sshd'].find((p) => {
    try {
      execFileSync(p, ['-V'], { stdio: 'ignore' });
      return true;
    } catch (e) {
      // `sshd -V` exits non-zero on some versions but prints the version: it exists if no ENOENT.
      return (e as NodeJS.ErrnoException).code !== 'ENOENT';
    }
  });
  if (!sshd) throw new Error('OpenSSH sshd is not installed (apt-get install openssh-server); the transport tests need it');
  const dir = mkdtempSync(join(tmpdir(), 'man8s-sshd-'));
  const keygen = (file: string) => execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', file, '-C', 'man8s-test']);
  keygen(join(dir, 'host_ed25519'));
  keygen(join(dir, 'other_host_ed25519'));
  keygen(join(dir, 'client_ed25519'));
  const authorized = join(dir, 'authorized_keys');
  writeFileSync(authorized, readFileSync(join(dir, 'client_ed25519.pub')), { mode: 0o600 });
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 }); // privilege separation dir
  const port = await freePort();
  const user = userInfo().username;
  const config = join(dir, 'sshd_config');
  writeFileSync(
    config,
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${join(dir, 'host_ed25519')}`,
      `AuthorizedKeysFile ${authorized}`,
      `PidFile ${join(dir, 'sshd.pid')}`,
      'PermitRootLogin yes',
      'StrictModes no',
      'UsePAM no',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PubkeyAuthentication yes',
      `MaxSessions ${o.maxSessions ?? 30}`,
      'MaxStartups 50',
      'LogLevel ERROR',
      '',
    ].join('\n'),
  );
  let log = '';
  const child = spawn(sshd, ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (log += c));
  await waitForPort(port, child, () => log);

  const hostKeyPub = readFileSync(join(dir, 'host_ed25519.pub'), 'utf8').trim();
  const otherHostKeyPub = readFileSync(join(dir, 'other_host_ed25519.pub'), 'utf8').trim();
  const knownHosts = join(dir, 'known_hosts');
  const [type, key] = hostKeyPub.split(' ');
  writeFileSync(knownHosts, `[127.0.0.1]:${port} ${type} ${key}\n`);
  const configFile = join(dir, 'ssh_config');
  writeFileSync(
    configFile,
    [
      'Host sshd-test',
      '  HostName 127.0.0.1',
      `  Port ${port}`,
      `  User ${user}`,
      `  IdentityFile ${join(dir, 'client_ed25519')}`,
      '  IdentitiesOnly yes',
      '  IdentityAgent none',
      `  UserKnownHostsFile ${knownHosts}`,
      `  GlobalKnownHostsFile ${join(dir, 'global_known_hosts')}`,
      `  HashKnownHosts ${o.hashKnownHosts ? 'yes' : 'no'}`,
      '  StrictHostKeyChecking yes',
      '',
    ].join('\n'),
  );
  return {
    dir,
    port,
    user,
    configFile,
    knownHosts,
    clientKey: join(dir, 'client_ed25519'),
    hostKeyPub,
    otherHostKeyPub,
    log: () => log,
    async stop() {
      if (child.exitCode === null) {
        await new Promise<void>((resolve) => {
          child.once('exit', () => resolve());
          child.kill('SIGTERM');
        });
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
