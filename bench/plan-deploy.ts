/**
 * What plan and deploy cost over a slow link, measured against the sandbox through delaying TCP relays
 * (this kernel has no netem): every ssh connection to a host goes through a relay adding DELAY ms each
 * way. Compares man8s with the guide's manual way (rsync per host, then one ssh per changed container
 * doing what `mbctl run` does: prepare the mounts, remove the container, compose up).
 *
 * Usage (root, under the sandbox lock, after a build):
 *   flock /tmp/man8s-e2e.lock bash -c 'cd /work/main && npm run build && node --import tsx bench/plan-deploy.ts 25 10'
 * Arguments: delay per direction in ms (25 → a 50 ms round trip), extra fleet hosts for the fan-out plan.
 * Needs a running sandbox with relink, lothric, tarrey; it resets those hosts before and after.
 *
 * Writes bench/plan-deploy.results.md: per step the wall time (node start included) and, per host,
 * connections, remote commands, bytes and seconds as `man8s --stats` reports them, with the relays'
 * own counts of TCP connections and bytes as a cross-check.
 */
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startDelayRelay, type DelayRelay, type RelayCounts } from './delay-relay.js';
import { readSandboxOverlay } from '../src/sandbox/overlay.js';
import { sandboxReset } from '../src/sandbox/index.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'dist', 'cli.js');
const delayMs = Number(process.argv[2] ?? 25);
const fanout = Number(process.argv[3] ?? 10);
const HOSTS = ['relink', 'lothric', 'tarrey'];
const PER_HOST = 3;

const overlay = readSandboxOverlay(root);
await sandboxReset(root);

const relays = new Map<string, DelayRelay>();
const dir = mkdtempSync(join(tmpdir(), 'man8s-bench-'));
const sshConfig = join(dir, 'ssh_config');
let config = '';
for (const h of HOSTS) {
  const o = overlay.hosts[h]!;
  const relay = await startDelayRelay({ target: { host: o.address, port: o.port }, delayMs });
  relays.set(h, relay);
  // The relay is reached on loopback; HostKeyAlias keeps host-key checking against the sandbox's keys.
  config += `Host wan-${h}\n  HostName 127.0.0.1\n  Port ${relay.port}\n  User root\n  IdentityFile ${o.identity}\n  IdentitiesOnly yes\n  UserKnownHostsFile ${o.knownHosts}\n  HostKeyAlias ${o.address}\n  StrictHostKeyChecking yes\n  BatchMode yes\n\n`;
}
writeFileSync(sshConfig, config);
const git = (...args: string[]) => execFileSync('git', args, { cwd: dir, encoding: 'utf8' });
git('init', '-q', '-b', 'main');
git('config', 'user.email', 'bench@man8s');
git('config', 'user.name', 'bench');
writeFileSync(join(dir, 'man8s.yaml'), `defaults:\n  ssh_config: ${sshConfig}\n  engine: docker\n`);

/**
 * A busybox container with a conf file and a conf folder mount git has no file for (/etc/bench), as
 * real configs often have. It stops at once on SIGTERM, so a restart measures man8s, not a stop timeout.
 */
const container = (env = '') =>
  `image: busybox:latest\nmount:\n  conf:\n    /etc/bench: {}\n${env}extra_compose_configs:\n  command: ["sh", "-c", "trap 'exit 0' TERM; sleep infinity & wait"]\n`;

/** A fleet host on one of the sandbox machines, with `containers` bench containers. */
function writeHost(name: string, real: string, containers: number): void {
  const base = join(dir, 'hosts', name);
  mkdirSync(join(base, 'conf'), { recursive: true });
  writeFileSync(join(base, 'host.yaml'), `ssh: wan-${real}\nyggaddr: ${overlay.hosts[real]!.yggaddr}\n`);
  for (let i = 0; i < containers; i++) {
    const c = join(base, 'conf', `bench-${i}`);
    mkdirSync(join(c, 'etc'), { recursive: true });
    writeFileSync(join(c, 'container.yaml'), container());
    writeFileSync(join(c, 'etc', 'bench.conf'), `instance = ${i}\n`);
  }
}
for (const h of HOSTS) writeHost(h, h, PER_HOST);
git('add', '-A');
git('commit', '-qm', 'bench fleet');

interface HostStats {
  host: string;
  connections: number;
  commands: number;
  sent: string;
  received: string;
  seconds: number;
}

interface Step {
  title: string;
  seconds: number;
  hosts: HostStats[];
  /** What the relays saw, per sandbox machine. */
  relays: Record<string, RelayCounts>;
}

const steps: Step[] = [];

function relayCounts(): Record<string, RelayCounts> {
  return Object.fromEntries([...relays].map(([h, r]) => [h, r.counts()]));
}

function relayDelta(before: Record<string, RelayCounts>): Record<string, RelayCounts> {
  const now = relayCounts();
  return Object.fromEntries(
    HOSTS.map((h) => [h, { connections: now[h]!.connections - before[h]!.connections, bytesToHost: now[h]!.bytesToHost - before[h]!.bytesToHost, bytesFromHost: now[h]!.bytesFromHost - before[h]!.bytesFromHost }]),
  );
}

/** The --stats table (Host Connections Commands Sent Received Seconds) back into rows. */
function parseStats(text: string): HostStats[] {
  const rows: HostStats[] = [];
  for (const line of text.split('\n')) {
    const m = /^(\S+)\s+(\d+)\s+(\d+)\s+(\d+(?:\.\d+)? (?:B|KiB))\s+(\d+(?:\.\d+)? (?:B|KiB))\s+(\d+\.\d+)\s*$/.exec(line);
    if (m) rows.push({ host: m[1]!, connections: Number(m[2]), commands: Number(m[3]), sent: m[4]!, received: m[5]!, seconds: Number(m[6]) });
  }
  return rows;
}

/** Runs a program without blocking this process: the relays live in its event loop. */
function run(cmd: string, args: string[], o: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { ...o, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

async function man8s(title: string, args: string[]): Promise<Step> {
  const before = relayCounts();
  const t = process.hrtime.bigint();
  const r = await run(process.execPath, [cli, ...args, '--stats'], { cwd: dir, env: { ...process.env, CI: '1' } });
  const seconds = Number(process.hrtime.bigint() - t) / 1e9;
  if (r.status !== 0 && r.status !== 2) throw new Error(`man8s ${args.join(' ')} failed:\n${r.stdout}${r.stderr}`);
  const step = { title: `${title}: \`man8s ${args.join(' ')}\``, seconds, hosts: parseStats(r.stderr), relays: relayDelta(before) };
  steps.push(step);
  process.stdout.write(`${step.title}: ${seconds.toFixed(2)} s\n${r.stderr.trim()}\n\n`);
  return step;
}

try {
  await man8s(`plan before the first deploy (3 hosts, ${3 * PER_HOST} to create)`, ['plan']);
  await man8s(`first deploy (3 hosts × ${PER_HOST} containers)`, ['deploy', '--all', '--yes', '--settle', '1']);
  await man8s('no-op plan, 3 hosts', ['plan']);
  await man8s('no-op plan, 1 host', ['plan', 'relink']);
  await man8s('no-op deploy, 3 hosts', ['deploy', '--all', '--yes']);
  writeFileSync(join(dir, 'hosts/relink/conf/bench-0/etc/bench.conf'), 'instance = 0 changed\n');
  git('commit', '-qam', 'one file');
  await man8s('deploy of one changed conf file (relink: restart bench-0)', ['deploy', '--all', '--yes', '--settle', '1']);
  writeFileSync(join(dir, 'hosts/relink/conf/bench-0/container.yaml'), container('environment:\n  ROUND: "2"\n'));
  git('commit', '-qam', 'one env');
  await man8s('deploy of one changed environment (relink: recreate bench-0)', ['deploy', '--all', '--yes', '--settle', '1']);

  // Many hosts: extra fleet hosts on the same 3 machines, each a copy of the machine's own host folder
  // (so its plan is a no-op too), planned only (read-only), to show parallelism.
  for (let i = 0; i < fanout; i++) {
    const real = HOSTS[i % 3]!;
    cpSync(join(dir, 'hosts', real), join(dir, 'hosts', `extra-${i}`), { recursive: true });
    rmSync(join(dir, 'hosts', `extra-${i}`, 'deployed.yaml'), { force: true });
  }
  git('add', '-A');
  git('commit', '-qm', 'fanout');
  await man8s(`no-op plan of ${3 + fanout} fleet hosts (--parallel 10)`, ['plan']);

  // Where a no-op host's time goes: the observe command's own duration (--verbose says it), and the
  // engine probe inside it that dominates on the sandbox (docker-compose v1 is a Python program).
  const verbose = await run(process.execPath, [cli, 'plan', 'relink', '--verbose'], { cwd: dir, env: { ...process.env, CI: '1' } });
  const observeMs = Number(/relink\s+exit 0 in (\d+) ms: man8s-observe/.exec(verbose.stderr)?.[1] ?? NaN);
  const timed = (c: string) => `s=$(date +%s%N); ${c} >/dev/null 2>&1; echo $(( ($(date +%s%N) - s) / 1000000 ))`;
  const probe = await run('ssh', ['-F', sshConfig, 'wan-relink', `${timed('docker compose version --short')}; ${timed('docker-compose version --short')}`]);
  const [composeV2Ms, composeV1Ms] = probe.stdout.trim().split('\n').map(Number);

  // The guide's manual way for the same one-file change on relink: rsync the host folder, then what
  // `mbctl run bench-0` does, over one ssh: prepare its mount, remove the container, compose up (from the
  // compose file man8s left there, standing in for the one mbctl renders on the host). Same relay, keys.
  writeFileSync(join(dir, 'hosts/relink/conf/bench-0/etc/bench.conf'), 'instance = 0 changed again\n');
  const ssh = ['ssh', '-F', sshConfig];
  const compose = '/var/lib/man8s-state/compose/bench-0/compose.yaml';
  const mbctlRun = [
    'mkdir -p /var/lib/man8s/conf/bench-0/etc/bench && chown 0:0 /var/lib/man8s/conf/bench-0/etc/bench && chmod 755 /var/lib/man8s/conf/bench-0/etc/bench',
    'docker rm -f bench-0 >/dev/null',
    `if docker compose version >/dev/null 2>&1; then docker compose -f ${compose} -p bench-0 up -d; else docker-compose -f ${compose} -p bench-0 up -d; fi`,
  ].join(' && ');
  const manualBefore = relayCounts();
  const t = process.hrtime.bigint();
  const step = async (cmd: string, args: string[]) => {
    const r = await run(cmd, args);
    if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr}`);
  };
  await step('rsync', ['-az', '--no-owner', '--no-group', '--no-perms', '--delete', '--include', '/conf', '--include', '/plugin', '--exclude', '/*', '-e', ssh.join(' '), `${join(dir, 'hosts/relink')}/`, 'wan-relink:/var/lib/man8s']);
  await step(ssh[0]!, [...ssh.slice(1), 'wan-relink', mbctlRun]);
  const manualSeconds = Number(process.hrtime.bigint() - t) / 1e9;
  const manual = relayDelta(manualBefore).relink!;
  process.stdout.write(`manual way (rsync + 1 ssh running mbctl run's steps): ${manualSeconds.toFixed(2)} s, ${manual.connections} connections\n`);

  const kib = (n: number) => (n < 10 * 1024 ? `${n} B` : `${(n / 1024).toFixed(1)} KiB`);
  const load = loadavg().map((l) => l.toFixed(2)).join(' ');
  const lines: string[] = [
    '# plan / deploy over a slow link (bench/plan-deploy.ts)',
    '',
    `- date: ${new Date().toISOString()}`,
    `- machine: ${cpus().length} × ${cpus()[0]?.model.trim() ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, Linux ${release()}, load ${load} at the end; sandbox hosts in network namespaces on the same machine`,
    `- link: ${delayMs} ms each way through a delaying TCP relay (bench/delay-relay.ts): a ${2 * delayMs} ms round trip on every ssh connection, man8s's and rsync's`,
    `- fleet: 3 hosts × ${PER_HOST} busybox containers, each with a conf file and a conf folder mount git has no file for`,
    `- command: \`flock /tmp/man8s-e2e.lock bash -c 'cd /work/main && npm run build && node --import tsx bench/plan-deploy.ts ${delayMs} ${fanout}'\``,
    '',
    'Wall time includes starting node and loading the fleet. Per host, the columns are what `--stats`',
    'reports (connections include rsync\'s own ssh; bytes are on the wire, encrypted; seconds run from',
    'before connecting to closing); "relay" is what the delaying relay in front of that host counted.',
    '',
    '| step | wall s | host | connections | commands | sent | received | host s | relay: connections, bytes to / from host |',
    '|---|---|---|---|---|---|---|---|---|',
  ];
  for (const s of steps) {
    s.hosts.forEach((h, i) => {
      const real = HOSTS.includes(h.host) ? h.host : undefined;
      const relay = real && s.hosts.every((x) => HOSTS.includes(x.host)) ? s.relays[real] : undefined;
      lines.push(
        `| ${i === 0 ? s.title : ''} | ${i === 0 ? s.seconds.toFixed(2) : ''} | ${h.host} | ${h.connections} | ${h.commands} | ${h.sent} | ${h.received} | ${h.seconds.toFixed(2)} | ${relay ? `${relay.connections}, ${kib(relay.bytesToHost)} / ${kib(relay.bytesFromHost)}` : ''} |`,
      );
    });
  }
  lines.push(
    `| manual way, one changed file on relink: rsync + 1 ssh (mount prep, rm, compose up) | ${manualSeconds.toFixed(2)} | relink | ${manual.connections} | 2 | ${kib(manual.bytesToHost)} | ${kib(manual.bytesFromHost)} | | ${manual.connections}, ${kib(manual.bytesToHost)} / ${kib(manual.bytesFromHost)} |`,
    '',
  );
  const find = (prefix: string) => steps.find((x) => x.title.startsWith(prefix))!;
  const perHostMax = (st: Step, k: 'connections' | 'commands') => Math.max(...st.hosts.map((h) => h[k]));
  const relinkOf = (st: Step) => st.hosts.find((h) => h.host === 'relink')!;
  const noop3 = find('no-op plan, 3 hosts');
  const noop1 = find('no-op plan, 1 host');
  const noopDeploy = find('no-op deploy');
  const restart = find('deploy of one changed conf file');
  const recreate = find('deploy of one changed environment');
  const fan = find('no-op plan of');
  lines.push(
    '## Against the targets',
    '',
    '| target (issue 4, Performance) | measured |',
    '|---|---|',
    `| no-op plan: 1 connection, ≤ 2 remote commands per host | ${perHostMax(noop3, 'connections')} connection, ${perHostMax(noop3, 'commands')} command per host |`,
    `| hosts in parallel: a no-op plan of all hosts ≈ one host | 3 hosts ${noop3.seconds.toFixed(2)} s, 1 host ${noop1.seconds.toFixed(2)} s (per host ${Math.max(...noop3.hosts.map((h) => h.seconds)).toFixed(2)} s vs ${relinkOf(noop1).seconds.toFixed(2)} s) |`,
    `| deploy of one changed container: ≤ ~6 remote commands on its host | restart: ${relinkOf(restart).commands} commands + rsync's connection; recreate: ${relinkOf(recreate).commands} commands + rsync's connection |`,
    `| (a no-op deploy) | ${perHostMax(noopDeploy, 'connections')} connection, ${perHostMax(noopDeploy, 'commands')} commands per host: lock + observe in one, release |`,
    `| vs the manual way (rsync + 1 ssh per changed container) | man8s ${restart.seconds.toFixed(2)} s for the restart, manual ${manualSeconds.toFixed(2)} s; both 2 connections |`,
    '',
    '## Reading it',
    '',
    `- A no-op host is about 1 connection handshake (a handful of round trips) plus one observe: the observe command took ${observeMs} ms from sending it to its end, one round trip included (\`man8s plan relink --verbose\`), the rest is the ssh handshake and the host's own work. Asking docker-compose v1 (the sandbox's, a Python program) its version takes ${composeV1Ms} ms (\`docker compose version\`: ${composeV2Ms} ms), so observe remembers it on the host, keyed by the binary, and only the first observe after an install or upgrade pays it.`,
    `- The ${3 + fanout}-host plan maps ${fanout} extra fleet hosts onto the same 3 sandbox machines, which share this machine's CPUs: ${Math.max(...fan.hosts.map((h) => h.seconds)).toFixed(2)} s per host there is host CPU (up to ${Math.ceil(Math.min(10, 3 + fanout) / 3)} observes at a time per machine), not round trips: each host still costs 1 connection and 1 command.`,
    '- The restart deploy includes what the manual way skips: the lock, the plan with its diff (one more command), the wait until the container stays up (`--settle 1`), and the deployed.yaml commit.',
    "- Bytes: for ssh2's own connection `--stats` and the relay agree to the byte; for rsync's connection `--stats` counts rsync's payload (its `--stats`), the relay the encrypted stream, hence the gap in the rsync rows.",
    '',
  );
  writeFileSync(join(root, 'bench', 'plan-deploy.results.md'), `${lines.join('\n')}\n`);
  process.stdout.write(`\nwrote bench/plan-deploy.results.md\n`);
} finally {
  for (const r of relays.values()) await r.close();
  await sandboxReset(root);
  rmSync(dir, { recursive: true, force: true });
}
