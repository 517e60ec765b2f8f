/**
 * Mount sources, defaults and references (MAN8S-SPEC §4). Resolution assumes a validated fleet
 * (checkFleet reports bad references with positions); here a bad one is a programming error.
 */
import { posix } from 'node:path';
import { MOUNT_TYPES, type HostSpec, type MountType } from '../fleet/model.js';

export interface ResolvedMount {
  type: MountType;
  /** Path inside the container, as written. */
  target: string;
  /** Absolute host path. */
  source: string;
  owner: [number, number];
  perm: string;
  file: boolean;
  /** Set when the source was written `other:/path`: that mount is prepared by `other`, created first. */
  sharedFrom?: { container: string; target: string };
}

export type MountSource =
  | { kind: 'default' }
  | { kind: 'path'; path: string }
  | { kind: 'reference'; container: string; target: string }
  | { kind: 'invalid' };

/** `other:/path` is a reference; anything starting with `/` is a host path (checked further by checkFleet). */
export function parseMountSource(source: string | undefined): MountSource {
  if (source === undefined) return { kind: 'default' };
  if (source.startsWith('/')) return { kind: 'path', path: source };
  const match = /^([^/:]+):(.*)$/.exec(source);
  if (match) return { kind: 'reference', container: match[1]!, target: match[2]! };
  return { kind: 'invalid' };
}

/** `<storage_path>/<type>/<name>/<target without leading />`, the layout every Man8S host uses. */
export function defaultMountSource(storagePath: string, type: MountType, name: string, target: string): string {
  return posix.join(storagePath, type, name, target.replace(/^\/+/, ''));
}

/** Targets compare without a trailing slash: `/var/lib/secrets/` and `/var/lib/secrets` are one mount point. */
export function targetKey(target: string): string {
  return target.length > 1 ? target.replace(/\/+$/, '') : target;
}

/**
 * Why a mount path (key or source) is unusable, or undefined. `what` names it in the message.
 * A `:` would split the compose volume string `source:target`, so it is refused too.
 */
export function mountPathProblem(path: string, what: string): string | undefined {
  if (!path.startsWith('/')) return `${what} "${path}" must be an absolute path`;
  if (path.split('/').includes('..')) return `${what} "${path}" must not contain ".."`;
  const normal = posix.normalize(path);
  if (normal !== path) return `${what} "${path}" is not normalised; write "${normal}"`;
  if (path.includes(':')) return `${what} "${path}" must not contain ":" (compose volumes are written source:target)`;
  return undefined;
}

export class MountResolutionError extends Error {}

const cache = new WeakMap<HostSpec, Map<string, ResolvedMount[]>>();

/**
 * A container's mounts with defaults applied and references followed, in compose volume order
 * (data, log, conf, cache, plugin, socket; file order within a type). A reference takes owner, perm
 * and file from the entry it points at, which is itself resolved first, so chains work.
 */
export function resolveMounts(host: HostSpec, name: string): ResolvedMount[] {
  let memo = cache.get(host);
  if (!memo) cache.set(host, (memo = new Map()));
  return resolveWith(host, name, memo, []);
}

function resolveWith(host: HostSpec, name: string, memo: Map<string, ResolvedMount[]>, chain: string[]): ResolvedMount[] {
  const done = memo.get(name);
  if (done) return done;
  if (chain.includes(name)) throw new MountResolutionError(`${host.name}: mount references loop through ${[...chain, name].join(' → ')}`);
  const spec = host.containers.get(name);
  if (!spec) throw new MountResolutionError(`${host.name}: no container "${name}" to resolve mounts of`);
  const storage = host.settings.storage_path;
  const mounts: ResolvedMount[] = [];
  for (const type of MOUNT_TYPES) {
    for (const [target, entry] of Object.entries(spec.config.mount[type] ?? {})) {
      const source = parseMountSource(entry.source);
      if (source.kind === 'reference') {
        const theirs = resolveWith(host, source.container, memo, [...chain, name]);
        const shared = theirs.find((m) => targetKey(m.target) === targetKey(source.target));
        if (!shared) {
          throw new MountResolutionError(`${host.name}/${name}: ${source.container} has no mount at ${source.target}`);
        }
        mounts.push({
          type,
          target,
          source: shared.source,
          owner: [...shared.owner],
          perm: shared.perm,
          file: shared.file,
          sharedFrom: { container: source.container, target: source.target },
        });
        continue;
      }
      if (source.kind === 'invalid') throw new MountResolutionError(`${host.name}/${name}: invalid mount source "${entry.source}"`);
      const file = entry.file ?? false;
      mounts.push({
        type,
        target,
        source: source.kind === 'path' ? source.path : defaultMountSource(storage, type, name, target),
        owner: entry.owner ? [entry.owner[0], entry.owner[1]] : [0, 0],
        perm: entry.perm ?? (file ? '644' : '755'),
        file,
      });
    }
  }
  memo.set(name, mounts);
  return mounts;
}

/** Compose `volumes` entries. */
export function composeVolumes(mounts: ResolvedMount[]): string[] {
  return mounts.map((m) => `${m.source}:${m.target}`);
}
