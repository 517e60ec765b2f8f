/**
 * What plan and deploy cost over a slow link, measured against the sandbox through delaying TCP relays
 * (this kernel has no netem): every ssh connection to a host goes through a relay adding DELAY ms each
 * way. Compares man8s with the guide's manual way (rsync per host, then one ssh per changed container).
 *
 * Usage (root, builds nothing): npm run build && node --import tsx bench/plan-deploy.ts [delayMs=25] [fanout=10]
 * Needs a running sandbox with relink, lothric, tarrey (`node dist/cli.js sandbox up --hosts relink,lothric,tarrey`);
 * it resets those hosts first.
 *
 * Prints: no-op plan (3 hosts, and `fanout` fleet hosts mapped onto them), first deploy, no-op deploy,
 * deploy of one changed conf file; each with wall time and, per host, connections, remote commands,
 * bytes (man8s --stats). Then the manual way for the same one-file change.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startDelayRelay, type DelayRelay } from './delay-relay.js';
import { readSandboxOverlay } from '../src/sandbox/overlay.js';
import { sandboxReset } from '../src/sandbox/index.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'dist', 'cli.js');
const delayMs = Number(process.argv[2] ?? 25);
const fanout = Number(process.argv[3] ?? 10);
const HOSTS = ['relink', 'lothric', 'tarrey'];

const overlay = readSandboxOverlay(root);
await sandboxReset(root);

const relays: DelayRelay[] = [];
const dir = mkdtempSync(join(tmpdir(), 'man8s-bench-'));
const sshConfig = join(dir, 'ssh_config');
let config = '';
for (const h of HOSTS) {
  const o = overlay.hosts[h]!;
  const relay = await startDelayRelay({ target: { host: o.address, port: o.port }, delayMs });
  relays.push(relay);
  // The relay is reached on loopback; HostKeyAlias keeps host-key checking against the sandbox's keys.
  config += `Host wan-${h}\n  HostName 127.0.0.1\n  Port ${relay.port}\n  User root\n  IdentityFile ${o.identity}\n  UserKnownHostsFile ${o.knownHosts}\n  HostKeyAlias ${o.address}\n  StrictHostKeyChecking yes\n  BatchMode yes\n\n`;
}
writeFileSync(sshConfig, config);
const git = (...args: string[]) => execFileSync('git', args, { cwd: dir, encoding: 'utf8' });
git('init', '-q', '-b', 'main');
git('config', 'user.email', 'bench@man8s');
git('config', 'user.name', 'bench');
writeFileSync(join(dir, 'man8s.yaml'), `defaults:\n  ssh_config: ${sshConfig}\n  engine: docker\n`);

/** Fleet hosts: the 3 real ones, plus `fanout` extra fleet hosts observed on the same machines (plan only). */
function writeHost(name: string, real: string, containers: number): void {
  const base = join(dir, 'hosts', name);
  mkdirSync(join(base, 'conf'), { recursive: true });
  writeFileSync(join(base, 'host.yaml'), `ssh: wan-${real}\nyggaddr: ${overlay.hosts[real]!.yggaddr}\n`);
  for (let i = 0; i < containers; i++) {
    const c = join(base, 'conf', `bench-${i}`);
    mkdirSync(join(c, 'etc'), { recursive: true });
    writeFileSync(join(c, 'container.yaml'), `image: busybox:latest\nmount:\n  conf:\n    /etc/bench: {}\nextra_compose_configs:\n  command: ["sleep", "infinity"]\n`);
    writeFileSync(join(c, 'etc', 'bench.conf'), `instance = ${i}\n`);
  }
}
for (const h of HOSTS) writeHost(h, h, 3);
git('add', '-A');
git('commit', '-qm', 'bench fleet');

interface Run {
  seconds: number;
  stats: string;
}
function man8s(args: string[]): Run {
  const t = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [cli, ...args, '--stats'], { cwd: dir, encoding: 'utf8', env: { ...process.env, CI: '1' } });
  const seconds = Number(process.hrtime.bigint() - t) / 1e9;
  if (r.status !== 0 && r.status !== 2) {
    process.stderr.write(`${args.join(' ')} failed:\n${r.stdout}${r.stderr}`);
    process.exit(1);
  }
  return { seconds, stats: r.stderr.trim() };
}

const lines: string[] = [`# plan/deploy over a ${2 * delayMs} ms round trip (delaying relay), ${new Date().toISOString()}`, ''];
const record = (title: string, r: Run) => {
  lines.push(`## ${title}: ${r.seconds.toFixed(2)} s`, '', '```', r.stats, '```', '');
  process.stdout.write(`${title}: ${r.seconds.toFixed(2)} s\n${r.stats}\n\n`);
};

record('no-op plan of 3 empty hosts', man8s(['plan']));
record('first deploy (3 hosts × 3 containers)', man8s(['deploy', '--all', '--yes', '--settle', '1']));
record('no-op plan (3 hosts, everything deployed)', man8s(['plan']));
record('no-op deploy', man8s(['deploy', '--all', '--yes']));
writeFileSync(join(dir, 'hosts/relink/conf/bench-0/etc/bench.conf'), 'instance = 0 changed\n');
git('commit', '-qam', 'one file');
record('deploy of one changed conf file (relink: restart bench-0)', man8s(['deploy', '--all', '--yes', '--settle', '1']));

// Many hosts: extra fleet hosts on the same 3 machines, planned only (read-only), to show parallelism.
for (let i = 0; i < fanout; i++) writeHost(`extra-${i}`, HOSTS[i % 3]!, 3);
git('add', '-A');
git('commit', '-qm', 'fanout');
record(`no-op plan of ${3 + fanout} fleet hosts (--parallel 10)`, man8s(['plan']));

// The guide's manual way for the same one-file change: rsync the host folder, then recreate the
// container (mbctl run = rm + compose up) with one ssh per container. Same relay, same keys.
writeFileSync(join(dir, 'hosts/relink/conf/bench-0/etc/bench.conf'), 'instance = 0 changed again\n');
const ssh = ['ssh', '-F', sshConfig];
const t = process.hrtime.bigint();
execFileSync('rsync', ['-az', '--no-owner', '--no-group', '--no-perms', '--delete', '--include', '/conf', '--include', '/plugin', '--exclude', '/*', '-e', ssh.join(' '), `${join(dir, 'hosts/relink')}/`, 'wan-relink:/var/lib/man8s'], { stdio: 'ignore' });
execFileSync(ssh[0]!, [...ssh.slice(1), 'wan-relink', 'docker', 'restart', 'bench-0'], { stdio: 'ignore' });
const manual = Number(process.hrtime.bigint() - t) / 1e9;
lines.push(`## manual way for one changed file (rsync + 1 ssh): ${manual.toFixed(2)} s`, '', '2 ssh connections, no lock, no plan, no health check, no record.', '');
process.stdout.write(`manual way (rsync + ssh docker restart): ${manual.toFixed(2)} s\n`);

writeFileSync(join(root, 'bench', 'plan-deploy.results.md'), lines.join('\n'));
for (const r of relays) await r.close();
await sandboxReset(root);
rmSync(dir, { recursive: true, force: true });

