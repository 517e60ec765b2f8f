import { resolve } from 'node:path';
import { MOUNT_TYPES } from './model.js';
import type { ContainerConfig, HostSettings, MountEntry, MountType, PortMapping } from './model.js';

/**
 * Defaults of MAN8S-SPEC §1 and §3, applied to data that already passed its schema (so shapes are
 * trusted here). The schemas declare the same defaults for editors; a unit test keeps the two equal.
 */
export const HOST_DEFAULTS = {
  engine: 'nerdctl',
  storage_path: '/var/lib/man8s',
  network: { withygg: 'man8yggbr', noygg: 'man8br' },
  nerdconfig: { namespace: 'man8s.io', snapshotter: 'btrfs' },
  local_domain: 'man8s.local',
  config_file: 'container.yaml',
  tags: [] as string[],
} as const satisfies Omit<HostSettings, 'ssh' | 'yggaddr'>;

export const CONTAINER_DEFAULTS = {
  enable_ygg: true,
  autostart: true,
  require: [] as string[],
  port: [] as PortMapping[],
  environment: {},
  metadata: {},
  local_access: [] as string[],
  dns: 'host',
  extra_compose_configs: {},
} as const;

type Json = Record<string, any>;

const isPlainMap = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * man8s.yaml `defaults:` under a host.yaml: maps merge key by key (a host may override one network name
 * and keep the other), anything else (strings, `tags` lists) is replaced by the host's value.
 */
export function mergeUnder(defaults: Json, own: Json): Json {
  const out: Json = { ...defaults };
  for (const [key, value] of Object.entries(own)) {
    const base = out[key];
    out[key] = isPlainMap(base) && isPlainMap(value) ? mergeUnder(base, value) : value;
  }
  return out;
}

/**
 * host.yaml (already merged over the fleet defaults and schema-valid) with every default applied.
 * `repoRoot` anchors a relative `ssh_config`.
 */
export function hostSettingsFrom(hostName: string, raw: Json, repoRoot: string): HostSettings {
  return {
    ssh: raw.ssh ?? hostName,
    ...(raw.ssh_config ? { ssh_config: resolve(repoRoot, raw.ssh_config) } : {}),
    yggaddr: String(raw.yggaddr).trim(),
    engine: raw.engine ?? HOST_DEFAULTS.engine,
    storage_path: raw.storage_path ?? HOST_DEFAULTS.storage_path,
    network: { ...HOST_DEFAULTS.network, ...(raw.network ?? {}) },
    nerdconfig: { ...HOST_DEFAULTS.nerdconfig, ...(raw.nerdconfig ?? {}) },
    local_domain: raw.local_domain ?? HOST_DEFAULTS.local_domain,
    config_file: raw.config_file ?? HOST_DEFAULTS.config_file,
    tags: [...(raw.tags ?? HOST_DEFAULTS.tags)],
  };
}

/** container.yaml (schema-valid) with every default applied; ports normalised, env values as text. */
export function containerConfigFrom(raw: Json): ContainerConfig {
  const mount = {} as Record<MountType, Record<string, MountEntry>>;
  for (const type of MOUNT_TYPES) {
    mount[type] = {};
    for (const [target, written] of Object.entries<Json | null>(raw.mount?.[type] ?? {})) {
      const entry = written ?? {}; // `/path:` with nothing after it means all defaults, like `{}`
      // Only the keys the schema allows, as written: the Man8S rules apply mount defaults (they depend on file/perm).
      const copy: MountEntry = {};
      if (entry.source !== undefined) copy.source = entry.source;
      if (entry.owner !== undefined) copy.owner = [entry.owner[0], entry.owner[1]];
      if (entry.perm !== undefined) copy.perm = entry.perm;
      if (entry.file !== undefined) copy.file = entry.file;
      mount[type][target] = copy;
    }
  }
  const environment: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw.environment ?? {})) environment[name] = String(value);
  return {
    image: raw.image,
    enable_ygg: raw.enable_ygg ?? CONTAINER_DEFAULTS.enable_ygg,
    autostart: raw.autostart ?? CONTAINER_DEFAULTS.autostart,
    require: [...(raw.require ?? [])],
    mount,
    port: (raw.port ?? []).map(
      (p: [number, number, boolean?]): PortMapping => ({ host: p[0], container: p[1], udp: p[2] ?? false }),
    ),
    environment,
    metadata: { ...(raw.metadata ?? {}) },
    local_access: [...(raw.local_access ?? [])],
    dns: raw.dns ?? CONTAINER_DEFAULTS.dns,
    extra_compose_configs: structuredClone(raw.extra_compose_configs ?? {}),
  };
}
