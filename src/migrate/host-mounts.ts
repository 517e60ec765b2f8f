/**
 * Which containers on a host really mount a path, as the engine reports it (every container, managed by
 * man8s or not, running or not). The fleet only knows its own containers; a container made by hand or
 * by mbctl that mounts a custom source must keep it just the same.
 */
import { posix } from 'node:path';
import type { RemoteCommand } from '../remote/transport.js';
import { overlaps } from './plan.js';

export interface HostMount {
  container: string;
  /** Host-side sources of its mounts (bind paths; volumes show their folder under the engine's root). */
  sources: string[];
}

/** One line per container: name, then a tab before each mount source. */
export function mountListCommand(engineCli: readonly string[]): RemoteCommand {
  const script = String.raw`
ids=$("$@" ps -aq) || exit $?
[ -n "$ids" ] || exit 0
"$@" inspect --format '{{.Name}}{{range .Mounts}}{{"\t"}}{{.Source}}{{end}}' $ids
`;
  return { argv: ['sh', '-c', script, 'man8s-mounts', ...engineCli] };
}

export function parseMountList(out: string): HostMount[] {
  return out
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => {
      const [name, ...sources] = l.split('\t');
      return { container: name!.replace(/^\//, ''), sources: sources.filter(Boolean).map((s) => posix.normalize(s)) };
    });
}

/** Containers (other than `except`) with a mount that is the path, inside it, or around it. */
export function mountUsers(mounts: readonly HostMount[], path: string, except: readonly string[] = []): string[] {
  const p = posix.normalize(path);
  return mounts.filter((m) => !except.includes(m.container) && m.sources.some((s) => overlaps(s, p))).map((m) => m.container);
}
