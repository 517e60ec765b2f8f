/**
 * One sandbox host's private mount and UTS namespaces, and running commands inside them.
 *
 * `ip netns exec` alone is not enough: it remounts /sys for the namespace, which hides the cgroup
 * hierarchies (dockerd then refuses to start), and shares /run and /var/lib/man8s with the machine. So
 * each host gets a keeper process started with `unshare --mount --uts` inside its network namespace;
 * its namespaces are the host's, prepared once (own /run, /tmp, /var/lib/man8s, /root, /etc/docker,
 * cgroups remounted), and every daemon is started in them with nsenter. When the last process in them
 * exits, the kernel drops those mounts: `down` only has to stop processes.
 */
import { existsSync, mkdirSync, readFileSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import { must, run, startDaemon, waitFor, type RunOptions, type RunResult } from './exec.js';
import { STATE_PATH, STORAGE_PATH } from './layout.js';

/** argv prefix that runs a command inside a host (mount, UTS and network namespaces of its keeper). */
export function inHost(keeperPid: number, argv: readonly string[]): string[] {
  return ['nsenter', '-t', String(keeperPid), '-m', '-u', '-n', '--', ...argv];
}

export function runInHost(keeperPid: number, argv: readonly string[], opts?: RunOptions): Promise<RunResult> {
  return run(inHost(keeperPid, argv), opts);
}

export function mustInHost(keeperPid: number, argv: readonly string[], opts?: RunOptions): Promise<string> {
  return must(inHost(keeperPid, argv), opts);
}

function nsId(pid: number | 'self', ns: string): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/ns/${ns}`);
  } catch {
    return undefined;
  }
}

/** True while pid is alive and still in the given network namespace (guards against pid reuse). */
export function pidInNetns(pid: number | undefined, netns: string): boolean {
  if (!pid) return false;
  const mine = nsId(pid, 'net');
  if (!mine) return false;
  try {
    const { ino } = statSync(`/run/netns/${netns}`);
    return mine === `net:[${ino}]`;
  } catch {
    return false;
  }
}

/** Starts the keeper and waits until it has its own mount namespace. */
export async function startKeeper(netns: string, logFile: string): Promise<number> {
  const pid = startDaemon(
    ['ip', 'netns', 'exec', netns, 'unshare', '--mount', '--uts', '--propagation', 'private', '--', 'sleep', 'infinity'],
    logFile,
  );
  await waitFor(
    async () => {
      let comm = '';
      try {
        comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
      } catch {
        return undefined;
      }
      return comm === 'sleep' && nsId(pid, 'mnt') !== nsId('self', 'mnt') ? true : undefined;
    },
    10_000,
    () => `the namespace keeper for ${netns} did not start (see ${logFile})`,
    20,
  );
  return pid;
}

interface CgroupMount {
  mountpoint: string;
  fstype: string;
  options: string[];
}

/** The machine's cgroup mounts, to be repeated inside each host (where `ip netns exec` hid them). */
export function machineCgroupMounts(): { root?: CgroupMount; children: CgroupMount[] } {
  const lines = readFileSync('/proc/self/mountinfo', 'utf8').split('\n');
  let root: CgroupMount | undefined;
  const children: CgroupMount[] = [];
  for (const line of lines) {
    const [pre, post] = line.split(' - ');
    if (!pre || !post) continue;
    const mountpoint = pre.split(' ')[4] ?? '';
    const [fstype = '', , superOpts = ''] = post.split(' ');
    if (mountpoint !== '/sys/fs/cgroup' && !mountpoint.startsWith('/sys/fs/cgroup/')) continue;
    const m = { mountpoint, fstype, options: superOpts.split(',').filter((o) => o !== 'rw' && o !== 'ro') };
    if (mountpoint === '/sys/fs/cgroup') root = m;
    else if (fstype === 'cgroup' || fstype === 'cgroup2') children.push(m);
  }
  return { ...(root ? { root } : {}), children };
}

export interface HostMountPlan {
  hostname: string;
  stateDir: string;
  storage: string;
  /** Backs STATE_PATH: a compose file or migration record written on one host must not appear on another. */
  state: string;
  home: string;
  etcDocker: string;
}

/**
 * Mount points that must exist on the machine's filesystem before they can be mounted over inside a
 * host; returns the ones it had to create so `down` can remove them.
 */
export function ensureMountpoints(): string[] {
  const created: string[] = [];
  for (const dir of [STORAGE_PATH, STATE_PATH, '/etc/docker']) {
    if (!existsSync(dir)) {
      mkdirSync(dir, { recursive: true, mode: 0o755 });
      created.push(dir);
    }
  }
  return created;
}

/** Prepares the keeper's namespaces so the host looks like a Debian host with its own state. */
export async function prepareHostMounts(keeper: number, plan: HostMountPlan): Promise<void> {
  for (const dir of [plan.storage, plan.state, plan.home, plan.etcDocker]) mkdirSync(dir, { recursive: true, mode: 0o755 });
  const sh = (argv: string[]) => mustInHost(keeper, argv);
  await sh(['hostname', plan.hostname]);
  // The host's daemons read their config from the state dir, so nothing may be mounted over it: a repo
  // under /root or /tmp keeps the machine's /root or /tmp visible in the hosts.
  const hides = (dir: string) => plan.stateDir === dir || plan.stateDir.startsWith(`${dir}/`);
  await sh(['mount', '--bind', plan.storage, STORAGE_PATH]);
  await sh(['mount', '--bind', plan.state, STATE_PATH]);
  await sh(['mount', '--bind', plan.etcDocker, '/etc/docker']);
  if (!hides('/root')) await sh(['mount', '--bind', plan.home, '/root']);
  if (!hides('/tmp')) await sh(['mount', '-t', 'tmpfs', '-o', 'mode=1777', 'tmpfs', '/tmp']);
  // Mount sources outside storage_path (`source: /srv/…`) are per host too, as on real machines.
  for (const dir of ['/srv', '/mnt']) if (existsSync(dir) && !hides(dir)) await sh(['mount', '-t', 'tmpfs', '-o', 'mode=755', 'tmpfs', dir]);
  if (hides('/run')) throw new Error(`the sandbox state dir ${plan.stateDir} cannot be under /run`);
  await sh(['mount', '-t', 'tmpfs', '-o', 'mode=755', 'tmpfs', '/run']);
  await sh(['mkdir', '-p', '/run/sshd', '/run/yggdrasil', '/run/lock']);
  // Hosts run Debian's docker client, matching their dockerd, even where a newer client comes first in PATH.
  if (existsSync('/usr/local/bin/docker') && realpathSync('/usr/local/bin/docker') !== realpathSync('/usr/bin/docker'))
    await sh(['mount', '--bind', '/usr/bin/docker', '/usr/local/bin/docker']);
  const { root, children } = machineCgroupMounts();
  if (root && root.fstype === 'cgroup2') {
    await sh(['mount', '-t', 'cgroup2', ...optArgs(root.options), 'cgroup2', '/sys/fs/cgroup']);
    return;
  }
  await sh(['mount', '-t', 'tmpfs', '-o', 'mode=755', 'cgroup', '/sys/fs/cgroup']);
  for (const c of children) {
    await sh(['mkdir', '-p', c.mountpoint]);
    await sh(['mount', '-t', c.fstype, ...optArgs(c.options), c.fstype, c.mountpoint]);
  }
}

function optArgs(options: string[]): string[] {
  return options.length > 0 ? ['-o', options.join(',')] : [];
}
