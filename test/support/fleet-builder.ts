/**
 * In-memory fleets for unit tests of the Man8S rules, without touching the disk. Each container.yaml and
 * host.yaml is real YAML text parsed with the loader's parser, so locators give true line:col.
 * Defaults are those of MAN8S-SPEC §1 and §3.
 */
import { stringify } from 'yaml';
import { parseYaml } from '../../src/fleet/yaml.js';
import {
  MOUNT_TYPES,
  type ContainerConfig,
  type ContainerSpec,
  type Fleet,
  type HostSettings,
  type HostSpec,
  type MountEntry,
  type MountType,
  type SyncedType,
  type TreeEntry,
} from '../../src/fleet/model.js';

/** The guide's relink host. */
export const RELINK_YGG = '200:7547:78fb:902a:9a09:9bff:f966:89a7';

export interface ContainerInput {
  /** container.yaml as written: an object (serialised to YAML) or the YAML text itself. */
  yaml: Record<string, unknown> | string;
  trees?: Partial<Record<SyncedType, TreeEntry[]>>;
}

export interface HostInput {
  yggaddr?: string;
  /** Other host.yaml keys, as written (merged over the defaults). */
  settings?: Partial<Omit<HostSettings, 'yggaddr'>>;
  /** host.yaml text; overrides yggaddr/settings for the locator (settings still come from those). */
  hostYaml?: string;
  /** By name: a container.yaml object, its text, or a ContainerInput with trees. */
  containers?: Record<string, Record<string, unknown> | string | ContainerInput>;
  /** Names whose container.yaml was broken (the loader reported them). */
  broken?: string[];
}

const ROOT = '/fleet/hosts';

export function hostDefaults(name: string, yggaddr: string): HostSettings {
  return {
    ssh: name,
    yggaddr,
    engine: 'nerdctl',
    storage_path: '/var/lib/man8s',
    network: { withygg: 'man8yggbr', noygg: 'man8br' },
    nerdconfig: { namespace: 'man8s.io', snapshotter: 'btrfs' },
    local_domain: 'man8s.local',
    config_file: 'container.yaml',
    tags: [],
  };
}

function isContainerInput(v: unknown): v is ContainerInput {
  return typeof v === 'object' && v !== null && 'yaml' in v;
}

/** container.yaml as written → ContainerConfig with every default applied. */
export function applyContainerDefaults(raw: Record<string, unknown>): ContainerConfig {
  const mountRaw = (raw['mount'] ?? {}) as Partial<Record<MountType, Record<string, MountEntry | null>>>;
  const mount = {} as Record<MountType, Record<string, MountEntry>>;
  for (const type of MOUNT_TYPES) {
    mount[type] = {};
    for (const [target, entry] of Object.entries(mountRaw[type] ?? {})) mount[type][target] = entry ?? {};
  }
  const ports = (raw['port'] ?? []) as Array<[number, number, boolean?]>;
  const env = (raw['environment'] ?? {}) as Record<string, unknown>;
  return {
    image: String(raw['image'] ?? 'registry.example/app'),
    enable_ygg: (raw['enable_ygg'] as boolean | undefined) ?? true,
    autostart: (raw['autostart'] as boolean | undefined) ?? true,
    require: (raw['require'] as string[] | undefined) ?? [],
    mount,
    port: ports.map(([host, container, udp]) => ({ host, container, udp: udp ?? false })),
    environment: Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v)])),
    metadata: (raw['metadata'] as ContainerConfig['metadata'] | undefined) ?? {},
    local_access: (raw['local_access'] as string[] | undefined) ?? [],
    dns: (raw['dns'] as string | undefined) ?? 'host',
    extra_compose_configs: (raw['extra_compose_configs'] as Record<string, unknown> | undefined) ?? {},
  };
}

export function buildFleet(hosts: Record<string, HostInput>): Fleet {
  const fleet: Fleet = { repoRoot: '/fleet', root: ROOT, hosts: new Map() };
  for (const hostName of Object.keys(hosts).sort()) {
    const input = hosts[hostName]!;
    const yggaddr = input.yggaddr ?? RELINK_YGG;
    const settings: HostSettings = { ...hostDefaults(hostName, yggaddr), ...input.settings, yggaddr };
    const hostFile = `hosts/${hostName}/host.yaml`;
    const hostText = input.hostYaml ?? stringify({ yggaddr, ...input.settings });
    const hostParsed = parseYaml(hostText, hostFile);
    if (!hostParsed.ok) throw new Error(`builder: bad host.yaml for ${hostName}: ${JSON.stringify(hostParsed.diagnostics)}`);
    const host: HostSpec = {
      name: hostName,
      dir: `${ROOT}/${hostName}`,
      file: hostFile,
      at: hostParsed.at,
      settings,
      containers: new Map(),
      broken: new Set(input.broken ?? []),
    };
    const containers = input.containers ?? {};
    for (const name of Object.keys(containers).sort()) {
      const given = containers[name]!;
      const entry: ContainerInput = isContainerInput(given) ? given : { yaml: given };
      const file = `hosts/${hostName}/conf/${name}/container.yaml`;
      const text = typeof entry.yaml === 'string' ? entry.yaml : stringify(entry.yaml);
      const parsed = parseYaml(text, file);
      if (!parsed.ok) throw new Error(`builder: bad YAML for ${name}: ${JSON.stringify(parsed.diagnostics)}`);
      const spec: ContainerSpec = {
        name,
        host: hostName,
        file,
        at: parsed.at,
        config: applyContainerDefaults((parsed.data ?? {}) as Record<string, unknown>),
        trees: { conf: entry.trees?.conf ?? [], plugin: entry.trees?.plugin ?? [] },
      };
      host.containers.set(name, spec);
    }
    fleet.hosts.set(hostName, host);
  }
  return fleet;
}

/** One host `relink` with the given containers: the common case. */
export function relinkWith(containers: HostInput['containers'], extra: Omit<HostInput, 'containers'> = {}): Fleet {
  return buildFleet({ relink: { ...extra, containers } });
}
