/**
 * container.yaml → compose (MAN8S-SPEC §5), per engine, plus the identity labels later commands use to
 * detect drift from one `ps`. Input is a validated fleet (loadFleetOrFail ran checkFleet).
 */
import { createHash } from 'node:crypto';
import { Document } from 'yaml';
import type { ContainerSpec, Engine, Fleet, HostSettings, HostSpec, SyncedType, TreeEntry } from '../fleet/model.js';
import { levelMap, dependencyLevels } from './graph.js';
import { getContainer, getHost } from './lookup.js';
import { composeVolumes, resolveMounts, type ResolvedMount } from './mounts.js';
import { classifyDns, resolveContainerRef } from './names.js';
import { containerYggaddr } from './ygg.js';

export const LABEL_MANAGED = 'io.man8s.managed';
export const LABEL_SPEC_HASH = 'io.man8s.spec-hash';
export const LABEL_FILES_HASH = 'io.man8s.files-hash';

export interface RenderOptions {
  /** Overrides host.yaml `engine` (for `man8s render --engine`). */
  engine?: Engine;
}

/** A compose service; the fixed keys are typed, `extra_compose_configs` may add any other. */
export interface ComposeService {
  image: string;
  container_name: string;
  hostname: string;
  networks: string[] | Record<string, { ipv6_address: string }>;
  ports?: string[];
  volumes?: string[];
  environment?: Record<string, string>;
  restart: 'unless-stopped' | 'no';
  extra_hosts?: Record<string, string>;
  dns?: string;
  labels?: Record<string, string>;
  [extra: string]: unknown;
}

export interface ComposeFile {
  services: Record<string, ComposeService>;
  networks: Record<string, { external: true }>;
}

export interface DesiredContainer {
  name: string;
  image: string;
  autostart: boolean;
  require: string[];
  /** Dependency level on its host: `compose up` level 0 first, then 1… */
  level: number;
  /** The container's ygg address; absent when enable_ygg is false. */
  yggaddr?: string;
  /** The service with identity labels, as it goes into the compose file. */
  service: ComposeService;
  /** A compose file with this one service (and its external network), as mbctl runs it; composeYaml() gives its text. */
  compose: ComposeFile;
  /** Label io.man8s.spec-hash: a change needs a re-create. */
  specHash: string;
  /** Label io.man8s.files-hash: a change of conf/plugin content needs a restart. */
  filesHash: string;
  /** Resolved mounts in volume order, for mount preparation (mkdir/chown/chmod; file mounts must exist). */
  mounts: ResolvedMount[];
}

export interface DesiredHost {
  host: string;
  engine: Engine;
  settings: HostSettings;
  /** Names per dependency level (see graph.dependencyLevels). */
  levels: string[][];
  /** Every container of the host, in level order, by name within a level. */
  containers: DesiredContainer[];
}

/** sha256 of JSON with object keys sorted at every depth, so equal data hashes equally anywhere. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object') {
    const sorted: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined) sorted[key] = sortKeys(v);
    }
    return sorted;
  }
  return value;
}

function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/**
 * Hash of the conf and plugin trees as they will be on the host: what a running container reads and
 * what needs a restart when it changes. The root config file is left out: it is man8s's input, not the
 * container's, and its effects already show in the spec hash.
 */
export function filesHash(spec: ContainerSpec, configFile: string): string {
  return treesHash(spec.trees, configFile);
}

/** filesHash of any pair of trees: the repo's (desired) or the host's (observed), so they compare. */
export function treesHash(trees: Partial<Record<SyncedType, TreeEntry[]>>, configFile: string): string {
  const describe = (entries: TreeEntry[], skipConfig: boolean): unknown[] =>
    entries
      .filter((e) => !(skipConfig && e.path === configFile))
      // Only what git records and the sync carries: a file's executable bit, not folder modes (see plan/diff.ts).
      .map((e) => ({ path: e.path, kind: e.kind, mode: e.kind === 'file' ? (e.mode & 0o111 ? 0o755 : 0o644) : undefined, sha256: e.sha256, target: e.target }))
      .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return sha256(canonicalJson({ conf: describe(trees.conf ?? [], true), plugin: describe(trees.plugin ?? [], false) }));
}

/**
 * Hash of the service without its labels, plus how its own mount folders are prepared (owner, perm):
 * any difference means the container must be re-created. Ownership is part of it because a process
 * that already opened its files keeps the old permissions until it starts again.
 */
export function specHash(service: ComposeService, mounts: readonly ResolvedMount[] = []): string {
  const { labels: _identity, ...rest } = service;
  const prepared = mounts.filter((m) => !m.sharedFrom).map((m) => ({ source: m.source, owner: m.owner, perm: m.perm, file: m.file }));
  return sha256(canonicalJson(prepared.length ? { service: rest, mounts: prepared } : rest));
}

/** The ygg address of a container that has one (enable_ygg true). */
export function yggaddrOf(host: HostSpec, name: string): string {
  return containerYggaddr(host.settings.yggaddr, name);
}

/** The address `written` (a `dns`/`local_access` name) points at, on the host where it lives. */
function addressOf(fleet: Fleet, host: HostSpec, written: string, field: string): { name: string; address: string } {
  const resolved = resolveContainerRef(fleet, host.name, written, field);
  // checkFleet reports unresolvable names with a position; getting here means it was skipped.
  if (!resolved.ok) throw new Error(`${host.name}: ${resolved.message}`);
  const target = fleet.hosts.get(resolved.ref.host)!;
  return { name: resolved.ref.name, address: yggaddrOf(target, resolved.ref.name) };
}

function composePorts(spec: ContainerSpec, engine: Engine): string[] {
  return spec.config.port.flatMap((p) => {
    const mapping = `${p.host}:${p.container}${p.udp ? '/udp' : ''}`;
    // nerdctl binds "H:C" on IPv4 only; Docker binds both families already.
    return engine === 'nerdctl' ? [mapping, `[::]:${mapping}`] : [mapping];
  });
}

/** Compose accepts labels as a map or as `k=v` items; identity labels need the map form. */
function labelsAsMap(labels: unknown): Record<string, string> {
  if (Array.isArray(labels)) {
    const map: Record<string, string> = {};
    for (const item of labels) {
      const text = String(item);
      const eq = text.indexOf('=');
      if (eq < 0) map[text] = '';
      else map[text.slice(0, eq)] = text.slice(eq + 1);
    }
    return map;
  }
  if (labels && typeof labels === 'object') {
    return Object.fromEntries(Object.entries(labels).map(([k, v]) => [k, v === null || v === undefined ? '' : String(v)]));
  }
  return {};
}

/** The service without identity labels (user labels from extra_compose_configs included). */
function baseService(fleet: Fleet, host: HostSpec, spec: ContainerSpec, engine: Engine, mounts: ResolvedMount[]): ComposeService {
  const config = spec.config;
  const settings = host.settings;
  const ygg = config.enable_ygg ? yggaddrOf(host, spec.name) : undefined;

  const networks: ComposeService['networks'] = !ygg
    ? [settings.network.noygg]
    : engine === 'docker'
      ? // Docker has no yggoverlay plugin: the address is pinned on a network whose subnet is the host's /64.
        { [settings.network.withygg]: { ipv6_address: ygg } }
      : [settings.network.withygg];
  const ports = composePorts(spec, engine);
  const volumes = composeVolumes(mounts);
  // §5 key order; optional keys only when non-empty.
  const ordered: ComposeService = {
    image: config.image,
    container_name: spec.name,
    hostname: spec.name,
    networks,
    ...(ports.length ? { ports } : {}),
    ...(volumes.length ? { volumes } : {}),
    ...(Object.keys(config.environment).length ? { environment: { ...config.environment } } : {}),
    restart: config.autostart ? 'unless-stopped' : 'no',
  };
  if (ygg) {
    const extraHosts: Record<string, string> = { [`${spec.name}.${settings.local_domain}`]: ygg };
    for (const written of config.local_access) {
      const { name, address } = addressOf(fleet, host, written, 'local_access');
      extraHosts[`${name}.${settings.local_domain}`] ??= address;
    }
    ordered.extra_hosts = extraHosts;
  }
  const dns = classifyDns(config.dns);
  if (dns.kind === 'ip') ordered.dns = dns.address;
  else if (dns.kind === 'container') ordered.dns = addressOf(fleet, host, dns.written, 'dns').address;

  // Merged last, as mbctl does; the keys Man8S owns were refused by checkFleet.
  for (const [key, value] of Object.entries(config.extra_compose_configs)) {
    ordered[key] = key === 'labels' ? labelsAsMap(value) : value;
  }
  return ordered;
}

export function renderService(fleet: Fleet, hostName: string, containerName: string, opts: RenderOptions = {}): ComposeService {
  return renderContainer(fleet, hostName, containerName, opts).service;
}

export function renderCompose(fleet: Fleet, hostName: string, containerName: string, opts: RenderOptions = {}): ComposeFile {
  return renderContainer(fleet, hostName, containerName, opts).compose;
}

/** Everything deploy needs for one container; `level` is filled by desiredHost (0 here). */
export function renderContainer(
  fleet: Fleet,
  hostName: string,
  containerName: string,
  opts: RenderOptions = {},
  level = 0,
): DesiredContainer {
  const host = getHost(fleet, hostName);
  const spec = getContainer(fleet, hostName, containerName);
  const engine = opts.engine ?? host.settings.engine;
  const mounts = resolveMounts(host, spec.name);
  const base = baseService(fleet, host, spec, engine, mounts);
  const serviceHash = specHash(base, mounts);
  const files = filesHash(spec, host.settings.config_file);
  const service: ComposeService = {
    ...base,
    labels: {
      ...labelsAsMap(base.labels),
      [LABEL_MANAGED]: 'true',
      [LABEL_SPEC_HASH]: serviceHash,
      [LABEL_FILES_HASH]: files,
    },
  };
  const network = spec.config.enable_ygg ? host.settings.network.withygg : host.settings.network.noygg;
  const compose: ComposeFile = { services: { [spec.name]: service }, networks: { [network]: { external: true } } };
  return {
    name: spec.name,
    image: spec.config.image,
    autostart: spec.config.autostart,
    require: [...spec.config.require],
    level,
    ...(spec.config.enable_ygg ? { yggaddr: yggaddrOf(host, spec.name) } : {}),
    service,
    compose,
    specHash: serviceHash,
    filesHash: files,
    mounts: [...mounts],
  };
}

/** The desired state of one host: every container rendered, with levels for ordered `compose up`. */
export function desiredHost(fleet: Fleet, hostName: string, opts: RenderOptions = {}): DesiredHost {
  const host = getHost(fleet, hostName);
  const levels = dependencyLevels(host);
  const levelOf = levelMap(host);
  const containers = levels.flat().map((name) => renderContainer(fleet, hostName, name, opts, levelOf.get(name) ?? 0));
  return { host: host.name, engine: opts.engine ?? host.settings.engine, settings: host.settings, levels, containers };
}

/**
 * YAML text of a compose file. Every string value is double-quoted and YAML 1.1 rules decide key
 * quoting, because docker-compose v1 (PyYAML, YAML 1.1) would read `80:80` as a number and `no` as false.
 */
export function composeYaml(compose: ComposeFile | Record<string, unknown>): string {
  return new Document(compose, { version: '1.1' }).toString({
    directives: false,
    defaultStringType: 'QUOTE_DOUBLE',
    defaultKeyType: 'PLAIN',
    lineWidth: 0,
  });
}

/** Several compose files as one multi-document YAML stream (`man8s render <host>`). */
export function composeYamlStream(files: Array<ComposeFile>): string {
  return files.map((f) => `---\n${composeYaml(f)}`).join('');
}
