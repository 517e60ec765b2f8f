/**
 * Names, addresses and paths of a sandbox. All pure, so `up`, `down` and `status` agree on them
 * without reading each other's memory, and `down` can find leftovers of a crashed `up` by name alone.
 *
 * One sandbox per machine: namespace names and the private address range are fixed. The range
 * 10.213.0.0/24 exists only inside namespaces the sandbox creates (plus one veth in the root namespace
 * that reaches them), so nothing outside this machine is ever contacted.
 */
import { join } from 'node:path';
import { UserError } from '../errors.js';

/** Prefix of every network namespace the sandbox creates (`ip netns list`). */
export const NETNS_PREFIX = 'man8s-sbx-';
/** The namespace holding the bridge all hosts hang off; the root namespace's firewall cannot see it. */
export const BRIDGE_NETNS = `${NETNS_PREFIX}bridge`;
/** Root-namespace end of the uplink veth (≤ 15 characters, the kernel's limit). */
export const ROOT_LINK = 'man8s-sbx0';
export const SUBNET_PREFIX = '10.213.0';
export const ROOT_ADDRESS = `${SUBNET_PREFIX}.1`;
export const SUBNET = `${SUBNET_PREFIX}.0/24`;
/** cgroup folder (under each hierarchy) that every sandbox dockerd puts its containers in. */
export const CGROUP_PARENT = 'man8s-sandbox';
/** Where the Man8S storage lives on a sandbox host; bind-mounted from the state dir. */
export const STORAGE_PATH = '/var/lib/man8s';
/** man8s's own state on a host (`<storage_path>-state`, see remote/paths.ts); per host like the storage. */
export const STATE_PATH = `${STORAGE_PATH}-state`;
export const YGG_PORT = 7000;
export const SSH_PORT = 22;
/** Machine-wide marker naming the state dir of the sandbox that owns the names above. */
export const OWNER_FILE = '/run/man8s-sandbox.owner';
export const MAX_HOSTS = 200;

const HOST_NAME = /^[a-z0-9]([a-z0-9-]{0,40}[a-z0-9])?$/;

export function checkHostNames(names: readonly string[]): void {
  if (names.length === 0) throw new UserError('sandbox: no hosts given; use --hosts a,b,c or --from-fleet');
  if (names.length > MAX_HOSTS) throw new UserError(`sandbox: at most ${MAX_HOSTS} hosts (got ${names.length})`);
  const seen = new Set<string>();
  for (const n of names) {
    if (!HOST_NAME.test(n))
      throw new UserError(
        `sandbox: host name "${n}" is not usable: use lower-case letters, digits and inner dashes (at most 42 characters)`,
      );
    if (seen.has(n)) throw new UserError(`sandbox: host "${n}" is listed twice`);
    seen.add(n);
  }
}

export const hostNetns = (host: string): string => `${NETNS_PREFIX}h-${host}`;
/** Bridge-namespace end of host i's veth; the host end is always eth0. */
export const bridgePort = (index: number): string => `h${index}`;
export const hostAddress = (index: number): string => `${SUBNET_PREFIX}.${10 + index}`;
/** The ssh alias in the sandbox ssh config; prefixed so that, without that config, it resolves nowhere. */
export const sshAlias = (host: string): string => `man8s-sandbox-${host}`;

export interface SandboxPaths {
  /** <repo>/.man8s */
  dotDir: string;
  /** <repo>/.man8s/sandbox: everything the sandbox writes, removed by `down`. */
  stateDir: string;
  stateFile: string;
  overlayFile: string;
  sshConfig: string;
  identity: string;
  knownHosts: string;
  authorizedKeys: string;
  busyboxTar: string;
  standinDir: string;
  host(name: string): HostPaths;
}

export interface HostPaths {
  dir: string;
  /** Backs /var/lib/man8s on the host. */
  storage: string;
  /** Backs /var/lib/man8s-state (compose files, backups, migration records): hosts must not share it. */
  state: string;
  /** Backs /root (so a host's ssh/known_hosts/docker client files stay on that host). */
  home: string;
  /** Backs /etc/docker (dockerd writes key.json there; the machine's own stays untouched). */
  etcDocker: string;
  dockerData: string;
  sshdConfig: string;
  hostKey: string;
  yggConfig: string;
  log(daemon: string): string;
}

export function sandboxPaths(repoRoot: string): SandboxPaths {
  const dotDir = join(repoRoot, '.man8s');
  const stateDir = join(dotDir, 'sandbox');
  return {
    dotDir,
    stateDir,
    stateFile: join(stateDir, 'state.json'),
    overlayFile: join(dotDir, 'sandbox.json'),
    sshConfig: join(stateDir, 'ssh_config'),
    identity: join(stateDir, 'id_ed25519'),
    knownHosts: join(stateDir, 'known_hosts'),
    authorizedKeys: join(stateDir, 'authorized_keys'),
    busyboxTar: join(stateDir, 'busybox-rootfs.tar'),
    standinDir: join(stateDir, 'standin'),
    host(name: string): HostPaths {
      const dir = join(stateDir, 'hosts', name);
      return {
        dir,
        storage: join(dir, 'man8s'),
        state: join(dir, 'man8s-state'),
        home: join(dir, 'root'),
        etcDocker: join(dir, 'etc-docker'),
        dockerData: join(dir, 'docker'),
        sshdConfig: join(dir, 'sshd_config'),
        hostKey: join(dir, 'ssh_host_ed25519_key'),
        yggConfig: join(dir, 'yggdrasil.conf'),
        log: (daemon: string) => join(dir, `${daemon}.log`),
      };
    },
  };
}
