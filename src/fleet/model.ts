/**
 * The fleet as read from git, with every default applied. Produced by the loader (src/fleet/load.ts),
 * consumed by the Man8S rules (src/man8s/) and everything after them. Plain data: no I/O, no methods
 * except the position locators that turn a config path into file:line:col for messages.
 */

export type Engine = 'nerdctl' | 'docker';

/** The six storage types, in the order compose volumes are rendered (MAN8S-SPEC §4). */
export const MOUNT_TYPES = ['data', 'log', 'conf', 'cache', 'plugin', 'socket'] as const;
export type MountType = (typeof MOUNT_TYPES)[number];

/** Types whose content the operator keeps in git and man8s syncs; the others belong to the container. */
export const SYNCED_TYPES = ['conf', 'plugin'] as const;
export type SyncedType = (typeof SYNCED_TYPES)[number];

/** host.yaml (merged over man8s.yaml `defaults`) with every default applied. */
export interface HostSettings {
  /** ssh destination: an ~/.ssh/config alias or `user@host[:port]`; defaults to the host's folder name. */
  ssh: string;
  /** An ssh config file to resolve `ssh` with (`ssh -F`), absolute; from host.yaml / man8s.yaml defaults or the sandbox overlay. */
  ssh_config?: string;
  /** The host's yggdrasil node address (200::/7, first byte 0x02), canonical text. */
  yggaddr: string;
  engine: Engine;
  storage_path: string;
  network: { withygg: string; noygg: string };
  nerdconfig: { namespace: string; snapshotter: string };
  local_domain: string;
  config_file: string;
  tags: string[];
}

/** One entry of `mount.<type>`, as written (defaults are applied by the Man8S rules, not here). */
export interface MountEntry {
  source?: string;
  owner?: [number, number];
  perm?: string;
  file?: boolean;
}

export interface PortMapping {
  host: number;
  container: number;
  udp: boolean;
}

/** container.yaml with defaults applied. Key order of `mount` maps is file order. */
export interface ContainerConfig {
  image: string;
  enable_ygg: boolean;
  autostart: boolean;
  require: string[];
  mount: Record<MountType, Record<string, MountEntry>>;
  port: PortMapping[];
  environment: Record<string, string>;
  metadata: { create_time?: string; last_update_time?: string; author?: string };
  local_access: string[];
  dns: string;
  extra_compose_configs: Record<string, unknown>;
}

/**
 * One entry of a container's conf or plugin tree in the repo, as it will be on the host.
 * `path` is relative to `<type>/<name>/`, posix separators, no leading `./`; folders are listed too.
 */
export interface TreeEntry {
  path: string;
  kind: 'file' | 'dir' | 'symlink';
  /** Permission bits (e.g. 0o644). */
  mode: number;
  /** sha256 hex of the content, files only. */
  sha256?: string;
  size?: number;
  /** Link target as written, symlinks only. */
  target?: string;
}

/** Where in a YAML file a config path is: 1-based line and column. */
export interface Position {
  line: number;
  col: number;
}

/**
 * Finds the position of a path inside a parsed YAML file, e.g. ['mount', 'socket', '/db_socket', 'source'].
 * Falls back to the nearest existing ancestor (and to 1:1 for an empty file).
 * `key: true` points at the map key instead of the value (for "unknown key" style messages).
 */
export type Locator = (path: ReadonlyArray<string | number>, key?: boolean) => Position;

export interface ContainerSpec {
  name: string;
  host: string;
  /** container.yaml path relative to the current directory, as printed in messages. */
  file: string;
  at: Locator;
  config: ContainerConfig;
  trees: Record<SyncedType, TreeEntry[]>;
}

export interface HostSpec {
  name: string;
  /** hosts/<name> folder, absolute. */
  dir: string;
  /** host.yaml path relative to the current directory, as printed in messages. */
  file: string;
  at: Locator;
  settings: HostSettings;
  /** Containers whose container.yaml loaded and passed the schema, by name, in name order. */
  containers: Map<string, ContainerSpec>;
  /** Names under conf/ whose container.yaml failed to load or validate (already reported). */
  broken: Set<string>;
}

export interface Fleet {
  /** The git work tree holding the fleet (absolute); where deployed.yaml commits go. */
  repoRoot: string;
  /** The folder with one folder per host (absolute). */
  root: string;
  /** Hosts by name, in name order. Hosts whose host.yaml is invalid are absent (and reported). */
  hosts: Map<string, HostSpec>;
}

/** One problem found in the fleet, printed as `file:line:col: message`. */
export interface Diagnostic {
  file: string;
  line: number;
  col: number;
  message: string;
}

export function formatDiagnostic(d: Diagnostic): string {
  return `${d.file}:${d.line}:${d.col}: ${d.message}`;
}
