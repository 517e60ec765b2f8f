/**
 * `man8s sandbox up | down | status | images | reset`: the orchestration. The pieces (namespaces,
 * mounts, sshd, yggdrasil, dockerd) live in their own modules; this one sequences them, records every
 * step in the state file before taking it, and undoes everything on failure.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../errors.js';
import { run, sleep, waitFor } from './exec.js';
import { createNetworks, dockerReady, buildBusyboxTar, ensureStandins, importBusybox, startDockerd } from './docker.js';
import { ensureMountpoints, machineCgroupMounts, pidInNetns, prepareHostMounts, runInHost, startKeeper } from './host.js';
import {
  BRIDGE_NETNS,
  CGROUP_PARENT,
  OWNER_FILE,
  SSH_PORT,
  STORAGE_PATH,
  checkHostNames,
  hostAddress,
  hostNetns,
  sandboxPaths,
  sshAlias,
  type SandboxPaths,
} from './layout.js';
import { checkSubnetFree, createBridge, createHostNetns, deleteNetns, deleteRootLink, listSandboxNetns, netnsPids } from './netns.js';
import type { SandboxOverlay } from './overlay.js';
import { checkPlatform, ensurePackages } from './prereq.js';
import { generateKey, sshRun, sshdConfigText, startSshd, writeKnownHosts, writeSshConfig } from './ssh.js';
import { readState, writeJsonAtomic, writeState, type HostState, type SandboxState } from './state.js';
import { redialPeer, startYggdrasil, writeYggConfig, yggIdentity, yggPeerCount, yggPeers, yggReady } from './ygg.js';

export type Log = (line: string) => void;

function logTail(file: string, lines = 8): string {
  try {
    const text = readFileSync(file, 'utf8').trim().split('\n').slice(-lines).join('\n    ');
    return text ? `\n  last lines of ${file}:\n    ${text}` : '';
  } catch {
    return '';
  }
}

function alive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    /* already gone */
  }
}

/**
 * The machine-wide owner record (in /run, so it goes with a reboot like the namespaces do): which state
 * dir owns the sandbox names, and the mount points created on the machine's filesystem, kept here too
 * so that `down` can remove them even when the state dir was deleted.
 */
interface Owner {
  stateDir: string;
  repoRoot: string;
  createdMountpoints: string[];
}

function readOwner(): Owner | undefined {
  try {
    const o = JSON.parse(readFileSync(OWNER_FILE, 'utf8')) as Owner;
    return typeof o.stateDir === 'string' && Array.isArray(o.createdMountpoints) ? o : undefined;
  } catch {
    return undefined;
  }
}

/** A sandbox of another repo that is still alive owns the names: refuse to touch it. */
function otherLiveOwner(p: SandboxPaths): string | undefined {
  const owner = readOwner();
  if (!owner || owner.stateDir === p.stateDir) return undefined;
  const other = readState(join(owner.stateDir, 'state.json'));
  return other && other.hosts.some((h) => pidInNetns(h.keeperPid, h.netns)) ? owner.repoRoot : undefined;
}

// ───────────────────────────── up ─────────────────────────────

export interface UpOptions {
  repoRoot: string;
  hosts: string[];
  install?: boolean;
  /** Stand-in images to build on every host once it is up. */
  images?: string[];
  log?: Log;
}

export interface UpResult {
  state: SandboxState;
  /** True when a healthy sandbox with these hosts was already running and is reused as is. */
  reused: boolean;
  seconds: number;
}

export async function sandboxUp(opts: UpOptions): Promise<UpResult> {
  const log = opts.log ?? (() => {});
  const started = Date.now();
  checkHostNames(opts.hosts);
  checkPlatform();
  await ensurePackages(opts.install ?? false, log);
  const p = sandboxPaths(opts.repoRoot);

  const other = otherLiveOwner(p);
  if (other)
    throw new UserError(`sandbox: the sandbox of ${other} is running on this machine; stop it first: cd ${other} && man8s sandbox down`);

  const existing = readState(p.stateFile);
  if (existing?.phase === 'up') {
    const same = existing.hosts.map((h) => h.name).join(',') === opts.hosts.join(',');
    const st = await sandboxStatus(opts.repoRoot);
    if (same && st.healthy) {
      if (opts.images?.length) await sandboxImages(opts.repoRoot, opts.images, log);
      return { state: existing, reused: true, seconds: (Date.now() - started) / 1000 };
    }
    if (!same && st.hosts.some((h) => h.running))
      throw new UserError(
        `sandbox: a sandbox with hosts ${existing.hosts.map((h) => h.name).join(',')} is running; ` +
          'stop it first with `man8s sandbox down`',
      );
    log('the previous sandbox is not healthy; removing it first');
  }
  // Leftovers of a crashed run (ours, or of a repo whose sandbox died) would collide with the names.
  if (existing || (await listSandboxNetns()).length > 0) await sandboxDown(opts.repoRoot, () => {});
  await checkSubnetFree();

  mkdirSync(p.stateDir, { recursive: true, mode: 0o755 });
  const state: SandboxState = {
    version: 1,
    repoRoot: opts.repoRoot,
    stateDir: p.stateDir,
    phase: 'starting',
    startedAt: new Date().toISOString(),
    createdMountpoints: [],
    hosts: opts.hosts.map((name, i) => ({ name, index: i + 1, netns: hostNetns(name), address: hostAddress(i + 1) })),
  };
  const save = () => {
    writeState(p.stateFile, state);
    writeJsonAtomic(OWNER_FILE, { stateDir: p.stateDir, repoRoot: opts.repoRoot, createdMountpoints: state.createdMountpoints } satisfies Owner);
  };
  save();
  try {
    await bringUp(p, state, save, log);
    if (opts.images?.length) await sandboxImages(opts.repoRoot, opts.images, log);
  } catch (err) {
    if (process.env.MAN8S_SANDBOX_KEEP_FAILED === '1') log(`bring-up failed; left as is for inspection (${p.stateDir})`);
    else {
      log('bring-up failed; removing what was started (MAN8S_SANDBOX_KEEP_FAILED=1 keeps it for inspection)');
      await sandboxDown(opts.repoRoot, () => {}).catch(() => {});
    }
    if (err instanceof UserError) throw err;
    throw new UserError(`sandbox up failed: ${(err as Error).message}`);
  }
  return { state, reused: false, seconds: state.upSeconds ?? (Date.now() - started) / 1000 };
}

async function bringUp(p: SandboxPaths, state: SandboxState, save: () => void, log: Log): Promise<void> {
  const t0 = Date.now();
  const hosts = state.hosts;
  state.createdMountpoints = ensureMountpoints();
  save();
  await generateKey(p.identity, 'man8s-sandbox-client');
  writeFileSync(p.authorizedKeys, readFileSync(`${p.identity}.pub`, 'utf8'), { mode: 0o644 });
  const busybox = buildBusyboxTar(p);
  await createBridge();
  log(`bridge ready; starting ${hosts.length} hosts`);

  // Per host, in parallel: namespaces, mounts, sshd, dockerd; yggdrasil comes after, in order.
  await Promise.all(
    hosts.map(async (h) => {
      const hp = p.host(h.name);
      mkdirSync(hp.dir, { recursive: true, mode: 0o755 });
      await createHostNetns(h.netns, h.index);
      h.keeperPid = await startKeeper(h.netns, hp.log('keeper'));
      save();
      await prepareHostMounts(h.keeperPid, { hostname: h.name, stateDir: p.stateDir, storage: hp.storage, state: hp.state, home: hp.home, etcDocker: hp.etcDocker });
      await generateKey(hp.hostKey, `man8s-sandbox-${h.name}`);
      writeFileSync(hp.sshdConfig, sshdConfigText(hp, h.address));
      h.sshdPid = await startSshd(h.keeperPid, hp, p.authorizedKeys);
      h.dockerdPid = startDockerd(h.keeperPid, h.name, hp);
      await writeYggConfig(hp, h.name, h.index);
      Object.assign(h, await yggIdentity(hp));
      save();
    }),
  );

  // Listeners before dialers: host i dials hosts 1..i-1, each already answering on its admin socket.
  for (const h of hosts) {
    const hp = p.host(h.name);
    h.yggdrasilPid = startYggdrasil(h.keeperPid!, hp);
    save();
    await waitFor(
      async () => ((await yggReady(h.keeperPid!)) ? true : alive(h.yggdrasilPid) ? undefined : false),
      15_000,
      () => `${h.name}: yggdrasil did not start${logTail(hp.log('yggdrasil'))}`,
      50,
    ).then((ok) => {
      if (!ok) throw new Error(`${h.name}: yggdrasil exited${logTail(hp.log('yggdrasil'))}`);
    });
  }
  log(`yggdrasil up on ${hosts.length} hosts (${((Date.now() - t0) / 1000).toFixed(1)} s)`);

  writeKnownHosts(
    p,
    hosts.map((h) => ({ alias: sshAlias(h.name), address: h.address, hostKeyPub: `${p.host(h.name).hostKey}.pub` })),
  );
  writeSshConfig(p, hosts);
  await busybox;

  await Promise.all(
    hosts.map(async (h) => {
      const hp = p.host(h.name);
      await waitFor(
        async () => ((await dockerReady(h.keeperPid!)) ? true : alive(h.dockerdPid) ? undefined : false),
        60_000,
        () => `${h.name}: dockerd did not answer${logTail(hp.log('dockerd'))}`,
        100,
      ).then((ok) => {
        if (!ok) throw new Error(`${h.name}: dockerd exited${logTail(hp.log('dockerd'))}`);
      });
      await createNetworks(h.keeperPid!, h.yggsubnet!);
      await importBusybox(h.keeperPid!, p);
      await waitFor(
        async () => ((await sshRun(p.sshConfig, h.name, ['true'], { timeoutMs: 10_000 })).code === 0 ? true : undefined),
        15_000,
        async () =>
          `${h.name}: ssh ${sshAlias(h.name)} failed: ${(await sshRun(p.sshConfig, h.name, ['true'])).stderr.trim()}${logTail(hp.log('sshd'))}`,
        100,
      );
    }),
  );
  log(`engines, networks, images and sshd ready (${((Date.now() - t0) / 1000).toFixed(1)} s)`);

  await waitForPeering(p, hosts, log);

  writeOverlay(p, hosts);
  state.phase = 'up';
  state.upSeconds = Math.round((Date.now() - t0) / 100) / 10;
  save();
}

/**
 * Waits until every yggdrasil is peered with every other. A dial that failed (a loaded machine, a
 * refused first dial) is only retried by yggdrasil after about a minute, so after two seconds the
 * missing links are redialled by hand.
 */
async function waitForPeering(p: SandboxPaths, hosts: readonly HostState[], log: Log): Promise<void> {
  const deadline = Date.now() + 40_000;
  // Seen here: a first dial refused although the listener had logged it was up; redial early.
  let nextKick = Date.now() + 2_000;
  for (;;) {
    const peers = await Promise.all(hosts.map((h) => yggPeers(h.keeperPid!)));
    const missing: Array<[HostState, HostState]> = [];
    hosts.forEach((h, i) => {
      for (const other of hosts)
        if (other !== h && other.index < h.index && !peers[i]?.includes(other.yggaddr!)) missing.push([h, other]);
    });
    if (missing.length === 0) return;
    if (Date.now() > deadline)
      throw new Error(
        `yggdrasil peering incomplete: ${missing.map(([a, b]) => `${a.name}→${b.name}`).join(', ')}` +
          missing.map(([a]) => logTail(p.host(a.name).log('yggdrasil'))).join(''),
      );
    if (Date.now() > nextKick) {
      log(`redialling yggdrasil peers: ${missing.map(([a, b]) => `${a.name}→${b.name}`).join(', ')}`);
      await Promise.all(missing.map(([dialer, listener]) => redialPeer(dialer.keeperPid!, listener.index)));
      nextKick = Date.now() + 3_000;
    }
    await sleep(200);
  }
}

function writeOverlay(p: SandboxPaths, hosts: readonly HostState[]): void {
  const overlay: SandboxOverlay = {
    version: 1,
    sshConfig: p.sshConfig,
    identity: p.identity,
    knownHosts: p.knownHosts,
    hosts: Object.fromEntries(
      hosts.map((h) => [
        h.name,
        {
          ssh: sshAlias(h.name),
          sshConfig: p.sshConfig,
          identity: p.identity,
          knownHosts: p.knownHosts,
          user: 'root',
          address: h.address,
          port: SSH_PORT,
          yggaddr: h.yggaddr!,
          yggsubnet: h.yggsubnet!,
          engine: 'docker' as const,
          storagePath: STORAGE_PATH,
        },
      ]),
    ),
  };
  writeJsonAtomic(p.overlayFile, overlay);
}

// ───────────────────────────── down ─────────────────────────────

export interface DownResult {
  stoppedProcesses: number;
  removedNetns: string[];
  /** Set when the names belong to another repo's live sandbox, which down leaves alone. */
  otherOwner?: string;
}

/** Every folder of the sandbox's cgroup parent, deepest first, in every hierarchy. */
function cgroupDirs(): string[] {
  const { root, children } = machineCgroupMounts();
  const mounts = root?.fstype === 'cgroup2' ? [root] : children;
  const dirs: string[] = [];
  const walk = (dir: string) => {
    let entries: string[];
    try {
      entries = readdirSync(dir);
    } catch {
      return;
    }
    for (const e of entries) {
      const sub = join(dir, e);
      try {
        if (statSync(sub).isDirectory()) walk(sub);
      } catch {
        /* raced with removal */
      }
    }
    dirs.push(dir);
  };
  for (const m of mounts) walk(join(m.mountpoint, CGROUP_PARENT));
  return dirs;
}

function cgroupPids(dirs: readonly string[]): number[] {
  const pids = new Set<number>();
  for (const d of dirs) {
    try {
      for (const l of readFileSync(join(d, 'cgroup.procs'), 'utf8').split('\n')) if (Number(l) > 0) pids.add(Number(l));
    } catch {
      /* gone */
    }
  }
  return [...pids];
}

async function waitGone(pids: () => Promise<number[]>, ms: number): Promise<number[]> {
  const deadline = Date.now() + ms;
  let left = await pids();
  while (left.length > 0 && Date.now() < deadline) {
    await sleep(50);
    left = await pids();
  }
  return left;
}

/**
 * Stops every process of the sandbox and removes its namespaces, links, cgroups, mount points, state
 * and overlay. Works from the state file when there is one and from the fixed names when there is not
 * (a crashed `up`), so running it twice, or after anything, is safe.
 */
export async function sandboxDown(repoRoot: string, log: Log = () => {}): Promise<DownResult> {
  checkPlatform();
  const p = sandboxPaths(repoRoot);
  const state = readState(p.stateFile);
  const other = otherLiveOwner(p);
  if (other) {
    rmSync(p.overlayFile, { force: true });
    return { stoppedProcesses: 0, removedNetns: [], otherOwner: other };
  }
  const netnsList = [...new Set([...(state?.hosts.map((h) => h.netns) ?? []), ...(await listSandboxNetns())])];
  const hostNetnsList = netnsList.filter((n) => n !== BRIDGE_NETNS);
  let stopped = 0;

  // Containers first (they ignore SIGTERM as pid 1 and would hold dockerd's shutdown), then dockerd so
  // it unmounts and cleans up cleanly, then everything else in the namespaces.
  const containers = cgroupPids(cgroupDirs());
  for (const pid of containers) signal(pid, 'SIGKILL');
  stopped += containers.length;
  const dockerds = (state?.hosts ?? []).filter((h) => pidInNetns(h.dockerdPid, h.netns)).map((h) => h.dockerdPid!);
  for (const pid of dockerds) signal(pid, 'SIGTERM');
  stopped += dockerds.length;
  await waitGone(async () => dockerds.filter(alive), 8000);
  const inNamespaces = async () => (await Promise.all(hostNetnsList.map(netnsPids))).flat();
  const rest = await inNamespaces();
  stopped += rest.length;
  for (const pid of rest) signal(pid, 'SIGTERM');
  let left = await waitGone(inNamespaces, 3000);
  for (const pid of left) signal(pid, 'SIGKILL');
  left = await waitGone(inNamespaces, 3000);
  if (left.length > 0) log(`warning: processes ${left.join(' ')} did not exit`);

  // Sweep the cgroup folders dockerd made (containers killed above; anything left is killed now).
  for (let i = 0; i < 40; i++) {
    const dirs = cgroupDirs();
    if (dirs.length === 0) break;
    for (const pid of cgroupPids(dirs)) signal(pid, 'SIGKILL');
    for (const d of dirs) {
      try {
        rmdirSync(d);
      } catch {
        /* busy for a moment after its last process died; retried */
      }
    }
    await sleep(50);
  }
  if (cgroupDirs().length > 0) log(`warning: cgroup folders ${cgroupDirs().join(' ')} could not be removed`);

  for (const ns of netnsList) await deleteNetns(ns);
  await deleteRootLink();
  const owner = readOwner();
  const mountpoints = new Set([...(state?.createdMountpoints ?? []), ...(owner?.createdMountpoints ?? [])]);
  for (const dir of mountpoints) {
    try {
      rmdirSync(dir);
    } catch {
      log(`warning: left ${dir} (not empty, or still in use)`);
    }
  }
  rmSync(p.stateDir, { recursive: true, force: true });
  rmSync(p.overlayFile, { force: true });
  rmSync(OWNER_FILE, { force: true });
  if (existsSync(p.dotDir) && readdirSync(p.dotDir).length === 0) rmdirSync(p.dotDir);
  return { stoppedProcesses: stopped, removedNetns: netnsList };
}

// ───────────────────────────── status ─────────────────────────────

export interface HostStatus {
  name: string;
  address: string;
  ssh: string;
  yggaddr?: string;
  yggsubnet?: string;
  /** The host's namespaces are alive. */
  running: boolean;
  sshd: boolean;
  engine: boolean;
  yggdrasil: boolean;
  yggPeers?: number;
}

export interface SandboxStatus {
  state: 'down' | 'starting' | 'up';
  repoRoot: string;
  sshConfig?: string;
  upSeconds?: number;
  hosts: HostStatus[];
  /** Every host runs sshd, engine and yggdrasil, and every yggdrasil is peered with all the others. */
  healthy: boolean;
}

export async function sandboxStatus(repoRoot: string): Promise<SandboxStatus> {
  checkPlatform();
  const p = sandboxPaths(repoRoot);
  const state = readState(p.stateFile);
  if (!state) return { state: 'down', repoRoot, hosts: [], healthy: false };
  const want = state.hosts.length - 1;
  const hosts = await Promise.all(
    state.hosts.map(async (h): Promise<HostStatus> => {
      const running = pidInNetns(h.keeperPid, h.netns);
      const base = {
        name: h.name,
        address: h.address,
        ssh: sshAlias(h.name),
        ...(h.yggaddr ? { yggaddr: h.yggaddr } : {}),
        ...(h.yggsubnet ? { yggsubnet: h.yggsubnet } : {}),
        running,
      };
      if (!running) return { ...base, sshd: false, engine: false, yggdrasil: false };
      const [ssh, engine, peers] = await Promise.all([
        existsSync(p.sshConfig) ? sshRun(p.sshConfig, h.name, ['true'], { timeoutMs: 10_000 }) : Promise.resolve({ code: 1 }),
        dockerReady(h.keeperPid!),
        yggPeerCount(h.keeperPid!),
      ]);
      return {
        ...base,
        sshd: ssh.code === 0,
        engine,
        yggdrasil: peers !== undefined,
        ...(peers !== undefined ? { yggPeers: peers } : {}),
      };
    }),
  );
  const healthy =
    state.phase === 'up' && hosts.every((h) => h.running && h.sshd && h.engine && h.yggdrasil && h.yggPeers === want);
  return {
    state: state.phase,
    repoRoot,
    sshConfig: p.sshConfig,
    ...(state.upSeconds !== undefined ? { upSeconds: state.upSeconds } : {}),
    hosts,
    healthy,
  };
}

// ───────────────────────────── images, reset ─────────────────────────────

function runningState(repoRoot: string): SandboxState {
  const state = readState(sandboxPaths(repoRoot).stateFile);
  if (!state || state.phase !== 'up') throw new UserError('sandbox: no sandbox is running; start one with `man8s sandbox up`');
  for (const h of state.hosts)
    if (!pidInNetns(h.keeperPid, h.netns))
      throw new UserError(`sandbox: host ${h.name} is not running; restart the sandbox: man8s sandbox down && man8s sandbox up`);
  return state;
}

/** Builds stand-ins for the images on every host (where the engine does not have them yet). */
export async function sandboxImages(repoRoot: string, images: readonly string[], log: Log = () => {}): Promise<Record<string, string[]>> {
  checkPlatform();
  const bad = images.filter((i) => i.includes('@') || !/^[a-z0-9][a-z0-9._\/:-]*$/.test(i));
  if (bad.length > 0)
    throw new UserError(`sandbox images: cannot stand in for ${bad.join(', ')} (need a lower-case name[:tag], no digest)`);
  const state = runningState(repoRoot);
  const p = sandboxPaths(repoRoot);
  const built: Record<string, string[]> = {};
  await Promise.all(
    state.hosts.map(async (h) => {
      built[h.name] = await ensureStandins(h.keeperPid!, p, images);
      if (built[h.name]!.length > 0) log(`${h.name}: built stand-ins ${built[h.name]!.join(' ')}`);
    }),
  );
  return built;
}

/**
 * Returns every host to the state right after `up`: no containers, empty /var/lib/man8s, no man8s
 * lock or state files, only the Man8S networks; images stay (they are expensive and read-only).
 */
export async function sandboxReset(repoRoot: string): Promise<void> {
  checkPlatform();
  const state = runningState(repoRoot);
  const p = sandboxPaths(repoRoot);
  await Promise.all(
    state.hosts.map(async (h) => {
      const k = h.keeperPid!;
      const docker = (args: string[]) => runInHost(k, ['/usr/bin/docker', ...args]);
      const ids = (await docker(['ps', '-aq'])).stdout.split('\n').filter(Boolean);
      if (ids.length > 0) await docker(['rm', '-f', '-v', ...ids]);
      const nets = (await docker(['network', 'ls', '--format', '{{.Name}}'])).stdout.split('\n').filter(Boolean);
      const extra = nets.filter((n) => !['bridge', 'host', 'none', 'man8yggbr', 'man8br'].includes(n));
      if (extra.length > 0) await docker(['network', 'rm', ...extra]);
      await docker(['volume', 'prune', '-f']);
      for (const dir of [p.host(h.name).storage, p.host(h.name).state]) {
        if (!existsSync(dir)) continue; // a sandbox started before hosts had their own state folder
        for (const e of readdirSync(dir)) rmSync(join(dir, e), { recursive: true, force: true });
      }
      await runInHost(k, ['find', '/run', '/run/lock', '/tmp', '-maxdepth', '1', '-name', 'man8s*', '-exec', 'rm', '-rf', '--', '{}', '+']);
    }),
  );
}

/** The running sandbox's state (hosts, keeper pids), for tests and tools that need to reach inside. */
export function sandboxState(repoRoot: string): SandboxState | undefined {
  return readState(sandboxPaths(repoRoot).stateFile);
}
