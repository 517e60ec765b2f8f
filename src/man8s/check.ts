/**
 * The Man8S rules that span files and hosts (MAN8S-SPEC §2–§5, issue 2 §4): mount paths and references,
 * require and cycles, dns/local_access names fleet-wide, refused compose keys, ports, yggaddr.
 * File-level checks (schema, DNS-label names, file mounts present, symlinks) belong to the loader.
 * Containers in `HostSpec.broken` were already reported, so pointing at them is never a second error.
 */
import { MOUNT_TYPES, type ContainerSpec, type Diagnostic, type Fleet, type HostSpec } from '../fleet/model.js';
import { findCycles, formatCycle } from './graph.js';
import { mountPathProblem, parseMountSource, targetKey } from './mounts.js';
import { classifyDns, hostHas, resolveContainerRef, type ContainerRef } from './names.js';
import { yggaddrProblem } from './ygg.js';

/** compose service keys Man8S computes itself (MAN8S-SPEC §3); a user value would silently break it. */
export const REFUSED_COMPOSE_KEYS = [
  'image',
  'container_name',
  'extra_hosts',
  'network_mode',
  'networks',
  'volumes',
  'mounts',
  'restart',
  'ports',
  'hostname',
] as const;

/** Labels man8s writes for drift detection; a user copy would make every plan wrong. */
export const RESERVED_LABEL_PREFIX = 'io.man8s.';

type Path = ReadonlyArray<string | number>;

export function checkFleet(fleet: Fleet): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const host of fleet.hosts.values()) {
    const problem = yggaddrProblem(host.settings.yggaddr);
    if (problem) out.push(at(host.file, host.at(['yggaddr']), problem));
    for (const spec of host.containers.values()) checkContainer(fleet, host, spec, out);
    checkCycles(host, out);
    checkPorts(host, out);
  }
  // Stable output whatever the map order: file, then position.
  return out.sort((a, b) => (a.file !== b.file ? (a.file < b.file ? -1 : 1) : a.line - b.line || a.col - b.col));
}

function at(file: string, pos: { line: number; col: number }, message: string): Diagnostic {
  return { file, line: pos.line, col: pos.col, message };
}

function checkContainer(fleet: Fleet, host: HostSpec, spec: ContainerSpec, out: Diagnostic[]): void {
  const report = (path: Path, message: string, key = false): void => {
    out.push(at(spec.file, spec.at(path, key), message));
  };
  const config = spec.config;

  config.require.forEach((name, i) => {
    if (!hostHas(host, name)) report(['require', i], `require: no container "${name}" on ${host.name}`);
  });

  checkMounts(host, spec, report);

  for (const key of Object.keys(config.extra_compose_configs)) {
    if ((REFUSED_COMPOSE_KEYS as readonly string[]).includes(key)) {
      report(['extra_compose_configs', key], `extra_compose_configs: "${key}" is set by Man8S and cannot be overridden`, true);
    }
  }
  checkLabels(config.extra_compose_configs['labels'], report);

  config.port.forEach((p, i) => {
    for (const [value, column] of [
      [p.host, 0],
      [p.container, 1],
    ] as const) {
      if (!Number.isInteger(value) || value < 1 || value > 65535) {
        report(['port', i, column], `port ${value} is out of range 1–65535`);
      }
    }
  });

  checkNames(fleet, host, spec, report);
}

function checkMounts(host: HostSpec, spec: ContainerSpec, report: (path: Path, message: string, key?: boolean) => void): void {
  const seen = new Map<string, string>();
  for (const type of MOUNT_TYPES) {
    for (const [target, entry] of Object.entries(spec.config.mount[type] ?? {})) {
      const keyPath = ['mount', type, target];
      const targetProblem = mountPathProblem(target, 'mount target');
      if (targetProblem) report(keyPath, targetProblem, true);
      else {
        const earlier = seen.get(targetKey(target));
        if (earlier) report(keyPath, `mount target "${target}" is mounted twice (also in mount.${earlier})`, true);
        else seen.set(targetKey(target), type);
      }
      if (entry.source === undefined) continue;
      const sourcePath = [...keyPath, 'source'];
      const source = parseMountSource(entry.source);
      if (source.kind === 'invalid') {
        report(sourcePath, `mount source "${entry.source}" must be an absolute path or a reference <container>:/path`);
      } else if (source.kind === 'path') {
        const problem = mountPathProblem(source.path, 'mount source');
        if (problem) report(sourcePath, problem);
      } else if (source.kind === 'reference') {
        const problem = mountPathProblem(source.target, 'referenced path');
        if (problem) {
          report(sourcePath, `mount source "${entry.source}": ${problem}`);
          continue;
        }
        if (!spec.config.require.includes(source.container)) {
          report(
            sourcePath,
            `mount source "${entry.source}" refers to ${source.container}, which is not in require; add it to require`,
          );
          continue;
        }
        // A missing container is already reported on its require entry; a broken one by the loader.
        const other = host.containers.get(source.container);
        if (!other) continue;
        const targets = MOUNT_TYPES.flatMap((t) => Object.keys(other.config.mount[t] ?? {}));
        if (!targets.some((t) => targetKey(t) === targetKey(source.target))) {
          const theirs = targets.length ? `its mounts: ${targets.join(', ')}` : 'it has no mounts';
          report(sourcePath, `mount source "${entry.source}": ${source.container} has no mount at ${source.target} (${theirs})`);
        }
      }
    }
  }
}

function checkLabels(labels: unknown, report: (path: Path, message: string, key?: boolean) => void): void {
  const message = (name: string): string =>
    `extra_compose_configs: label "${name}" is reserved for man8s (${RESERVED_LABEL_PREFIX}*)`;
  if (Array.isArray(labels)) {
    labels.forEach((item, i) => {
      const name = String(item).split('=')[0] ?? '';
      if (name.startsWith(RESERVED_LABEL_PREFIX)) report(['extra_compose_configs', 'labels', i], message(name));
    });
  } else if (labels && typeof labels === 'object') {
    for (const name of Object.keys(labels)) {
      if (name.startsWith(RESERVED_LABEL_PREFIX)) report(['extra_compose_configs', 'labels', name], message(name), true);
    }
  }
}

/** dns / local_access: resolvable fleet-wide, pointing at something with a ygg address, no clashing hosts entries. */
function checkNames(fleet: Fleet, host: HostSpec, spec: ContainerSpec, report: (path: Path, message: string) => void): void {
  const config = spec.config;
  const dns = classifyDns(config.dns);
  if (dns.kind === 'container') {
    if (!config.enable_ygg) {
      report(['dns'], `dns: "${config.dns}" names a container, which needs enable_ygg: true; use host or an IP address`);
    } else {
      const resolved = resolveContainerRef(fleet, host.name, dns.written, 'dns');
      if (!resolved.ok) report(['dns'], resolved.message);
      else {
        const problem = noYggProblem(fleet, resolved.ref, 'dns');
        if (problem) report(['dns'], problem);
      }
    }
  }
  if (config.local_access.length > 0 && !config.enable_ygg) {
    report(['local_access'], 'local_access needs enable_ygg: true (without ygg the container gets no hosts entries)');
    return;
  }
  // Hosts entries are keyed by bare name, so two refs to different hosts' `x` would collide.
  const entries = new Map<string, { written: string; ref: ContainerRef }>([
    [spec.name, { written: spec.name, ref: { host: host.name, name: spec.name } }],
  ]);
  config.local_access.forEach((written, i) => {
    const resolved = resolveContainerRef(fleet, host.name, written, 'local_access');
    if (!resolved.ok) return report(['local_access', i], resolved.message);
    const { ref } = resolved;
    const problem = noYggProblem(fleet, ref, 'local_access');
    if (problem) return report(['local_access', i], problem);
    const earlier = entries.get(ref.name);
    if (earlier && earlier.ref.host !== ref.host) {
      const domain = host.settings.local_domain;
      const what = earlier.written === spec.name && earlier.ref.host === host.name ? 'the container itself' : `"${earlier.written}"`;
      report(
        ['local_access', i],
        `local_access: "${written}" (on ${ref.host}) and ${what} (on ${earlier.ref.host}) would both be ${ref.name}.${domain}`,
      );
    } else if (!earlier) entries.set(ref.name, { written, ref });
  });
}

function noYggProblem(fleet: Fleet, ref: ContainerRef, field: string): string | undefined {
  const target = fleet.hosts.get(ref.host)?.containers.get(ref.name);
  if (target && !target.config.enable_ygg) {
    return `${field}: ${ref.name} on ${ref.host} has enable_ygg: false, so it has no ygg address`;
  }
  return undefined;
}

function checkCycles(host: HostSpec, out: Diagnostic[]): void {
  for (const cycle of findCycles(host)) {
    const first = host.containers.get(cycle[0]!)!;
    const index = first.config.require.indexOf(cycle[1]!);
    out.push(at(first.file, first.at(['require', index]), `dependency cycle: ${formatCycle(cycle)}`));
  }
}

/** The same host port and protocol bound twice on one host fails at `compose up`; catch it in git. */
function checkPorts(host: HostSpec, out: Diagnostic[]): void {
  const owners = new Map<string, string>();
  for (const spec of host.containers.values()) {
    spec.config.port.forEach((p, i) => {
      const key = `${p.host}/${p.udp ? 'udp' : 'tcp'}`;
      const owner = owners.get(key);
      if (owner === undefined) owners.set(key, spec.name);
      else {
        const message =
          owner === spec.name
            ? `host port ${key} is used twice by ${spec.name}`
            : `host port ${key} is used by both ${owner} and ${spec.name} on ${host.name}`;
        out.push(at(spec.file, spec.at(['port', i, 0]), message));
      }
    });
  }
}
