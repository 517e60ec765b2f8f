/**
 * The sandbox's own life cycle, through the real CLI: `down` leaves no namespace, link, mount, cgroup,
 * process or file behind — after a healthy `up`, a second time, and after an `up` killed halfway — and
 * `up --hosts a,b,c` gives three healthy hosts whose yggdrasil nodes are all peered.
 *
 * It takes the shared sandbox down, so it brings the e2e hosts back up at the end for the suites after it.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../../src/sandbox/exec.js';
import { BRIDGE_NETNS, CGROUP_PARENT, NETNS_PREFIX, OWNER_FILE, ROOT_LINK, sandboxPaths } from '../../src/sandbox/layout.js';
import { CLI } from '../support/e2e-fleet.js';
import { E2E_HOSTS, ensureSandbox, REPO_ROOT } from '../support/sandbox.js';

const paths = sandboxPaths(REPO_ROOT);

function cli(args: string[], timeoutMs = 240_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: REPO_ROOT, env: { ...process.env, NO_COLOR: '1' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 1, stdout, stderr });
    });
  });
}

/** Every process in a sandbox network namespace now (keepers, sshd, dockerd, containerd, yggdrasil, containers). */
async function sandboxPids(): Promise<Map<string, string>> {
  const pids = new Map<string, string>();
  const netns = (await run(['ip', 'netns', 'list'])).stdout.split('\n').map((l) => l.split(' ')[0]!).filter((n) => n.startsWith(NETNS_PREFIX));
  for (const ns of netns) {
    for (const pid of (await run(['ip', 'netns', 'pids', ns])).stdout.split('\n').filter(Boolean)) pids.set(pid, cmdline(pid) ?? '');
  }
  return pids;
}

function cmdline(pid: string): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
  } catch {
    return undefined;
  }
}

/** Of the processes seen before, those still alive (same pid, same command line). */
function survivors(before: Map<string, string>): string[] {
  return [...before].filter(([pid, cmd]) => cmdline(pid) === cmd).map(([pid, cmd]) => `${pid}: ${cmd}`);
}

/** Every trace a sandbox could leave on this machine, processes seen in `before` included; empty when none. */
async function leftovers(before: Map<string, string> = new Map()): Promise<string[]> {
  const left: string[] = [];
  const alive = survivors(before);
  if (alive.length > 0) left.push(`processes: ${alive.join(' | ')}`);
  const netns = (await run(['ip', 'netns', 'list'])).stdout.split('\n').filter((l) => l.startsWith(NETNS_PREFIX));
  if (netns.length > 0) left.push(`network namespaces: ${netns.join(', ')}`);
  if ((await run(['ip', 'link', 'show', ROOT_LINK])).code === 0) left.push(`link ${ROOT_LINK}`);
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((l) => l.includes(paths.stateDir) || l.includes(NETNS_PREFIX));
  if (mounts.length > 0) left.push(`mounts: ${mounts.join(' | ')}`);
  for (const root of ['/sys/fs/cgroup', '/sys/fs/cgroup/memory', '/sys/fs/cgroup/pids']) {
    if (existsSync(join(root, CGROUP_PARENT))) left.push(`cgroup ${join(root, CGROUP_PARENT)}`);
  }
  for (const f of [paths.stateDir, paths.overlayFile, OWNER_FILE]) if (existsSync(f)) left.push(`file ${f}`);
  return left;
}

after(async () => {
  // The suites after this one expect the e2e hosts.
  await ensureSandbox({ hosts: E2E_HOSTS });
});

test('down removes every namespace, link, mount, cgroup, process and file; a second down is a no-op', async () => {
  await ensureSandbox({ hosts: E2E_HOSTS });
  const pids = await sandboxPids();
  // keeper, sshd, dockerd, containerd, yggdrasil on each of three hosts at least.
  assert.ok(pids.size >= 15, `a running sandbox must be visible to these checks, or they prove nothing (saw ${pids.size} processes)`);
  assert.notDeepEqual(await leftovers(pids), []);
  const down = await cli(['sandbox', 'down']);
  assert.equal(down.code, 0, down.stderr);
  assert.deepEqual(await leftovers(pids), []);
  const again = await cli(['sandbox', 'down']);
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual(await leftovers(pids), []);
});

test('up --hosts a,b,c: three healthy hosts, each yggdrasil peered with both others; status says so', async () => {
  const up = await cli(['sandbox', 'up', '--hosts', 'a,b,c']);
  assert.equal(up.code, 0, `${up.stdout}\n${up.stderr}`);
  const status = await cli(['sandbox', 'status', '--json']);
  assert.equal(status.code, 0, status.stderr);
  const s = JSON.parse(status.stdout) as { state: string; healthy: boolean; hosts: Array<{ name: string; running: boolean; sshd: boolean; engine: boolean; yggdrasil: boolean; yggPeers?: number; yggaddr?: string }> };
  assert.equal(s.state, 'up');
  assert.equal(s.healthy, true);
  assert.deepEqual(s.hosts.map((h) => h.name), ['a', 'b', 'c']);
  for (const h of s.hosts) {
    assert.deepEqual([h.running, h.sshd, h.engine, h.yggdrasil, h.yggPeers], [true, true, true, true, 2], `host ${h.name}`);
    assert.match(h.yggaddr ?? '', /^2[0-9a-f]{2}:/, `host ${h.name} has a real yggdrasil node address`);
  }
  assert.equal(new Set(s.hosts.map((h) => h.yggaddr)).size, 3, 'every host has its own key');
  // Each host lives in its own network namespace, off the bridge namespace.
  const netns = (await run(['ip', 'netns', 'list'])).stdout;
  for (const name of ['a', 'b', 'c']) assert.match(netns, new RegExp(`^${NETNS_PREFIX}h-${name}\\b`, 'm'));
  assert.match(netns, new RegExp(`^${BRIDGE_NETNS}\\b`, 'm'));

  const pids = await sandboxPids();
  const down = await cli(['sandbox', 'down']);
  assert.equal(down.code, 0, down.stderr);
  assert.deepEqual(await leftovers(pids), []);
});

test('down after an up killed halfway still leaves nothing behind', async () => {
  const child = spawn(process.execPath, [CLI, 'sandbox', 'up', '--hosts', 'a,b,c'], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const killed = new Promise<void>((resolve) => {
    const onData = (d: Buffer) => {
      out += d.toString('utf8');
      // Past the bridge and into the hosts: namespaces, mounts and daemons exist, the state is not 'up'.
      if (/yggdrasil up/.test(out) && child.exitCode === null) child.kill('SIGKILL');
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('close', () => resolve());
  });
  await killed;
  assert.match(out, /yggdrasil up/, 'up must have got far enough to leave daemons behind');
  const pids = await sandboxPids();
  assert.ok(pids.size >= 6, `the killed up left processes for down to stop (saw ${pids.size})`);
  const down = await cli(['sandbox', 'down']);
  assert.equal(down.code, 0, down.stderr);
  assert.deepEqual(await leftovers(pids), []);
});
