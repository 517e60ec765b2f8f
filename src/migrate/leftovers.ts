/**
 * The source's data after a successful migration: not deleted, but renamed in place to
 * `<path>.man8s-migrated-<stamp>` (same folder, so the same filesystem: a rename, never a copy, however
 * big the data) and listed in a marker `<storage>-state/migrated/<name>-<stamp>.json`. The rename keeps a
 * later container of the same name on this host from picking the old data up; the marker is what
 * `man8s gc <host>` and `--purge-source` remove. Target data of a failed migration is removed the same
 * careful way: only paths the migration itself created.
 */
import { assertSafeName } from '../remote/paths.js';
import type { RemoteCommand } from '../remote/transport.js';

export const LEFTOVER_SUFFIX = '.man8s-migrated-';

export interface LeftoverMarker {
  name: string;
  /** Where it went. */
  to: string;
  at: string;
  paths: string[];
}

export function leftoverStamp(d: Date): string {
  return d.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}

export function markerPath(statePath: string, name: string, stamp: string): string {
  assertSafeName(name);
  return `${statePath}/migrated/${name}-${stamp}.json`;
}

/**
 * Renames each existing path and writes the marker, in one command; prints the renamed paths. A path
 * already renamed (a resumed run) is skipped, so the step can run twice.
 */
export function renameLeftoversCommand(statePath: string, marker: Omit<LeftoverMarker, 'paths'>, stamp: string, paths: readonly string[]): RemoteCommand {
  // The marker is written first: a run killed between the two leaves a marker for gc, never unlisted data.
  const script = String.raw`
set -e
marker=$1; suffix=$2; json=$3; shift 3
mkdir -p "$(dirname "$marker")"
printf '%s' "$json" >"$marker"
for p in "$@"; do
  if [ -e "$p" ] || [ -L "$p" ]; then mv -- "$p" "$p$suffix"; printf '%s\n' "$p$suffix"; fi
done
`;
  const renamed = paths.map((p) => `${p}${LEFTOVER_SUFFIX}${stamp}`);
  const json = `${JSON.stringify({ ...marker, paths: renamed } satisfies LeftoverMarker, null, 2)}\n`;
  return { argv: ['sh', '-c', script, 'man8s-leftovers', markerPath(statePath, marker.name, stamp), `${LEFTOVER_SUFFIX}${stamp}`, json, ...paths] };
}

/** Every marker on a host: NUL-separated `path\0content\0` pairs. */
export function listMarkersCommand(statePath: string): RemoteCommand {
  const script = String.raw`
for f in "$1"/migrated/*.json; do
  [ -f "$f" ] || continue
  printf '%s\0' "$f"; cat "$f"; printf '\0'
done
`;
  return { argv: ['sh', '-c', script, 'man8s-markers', statePath] };
}

export function parseMarkers(out: string): Array<{ file: string; marker: LeftoverMarker }> {
  const parts = out.split('\0');
  const found: Array<{ file: string; marker: LeftoverMarker }> = [];
  for (let i = 0; i + 1 < parts.length; i += 2) {
    try {
      const m = JSON.parse(parts[i + 1]!) as LeftoverMarker;
      if (typeof m.name === 'string' && Array.isArray(m.paths)) found.push({ file: parts[i]!, marker: m });
    } catch {
      // an unreadable marker is left alone
    }
  }
  return found;
}

/**
 * Removes leftovers. Refuses (exit 3) any path that does not carry the leftover suffix: this command
 * can only ever delete what a migration renamed.
 */
export function removeLeftoversCommand(markerFile: string, paths: readonly string[]): RemoteCommand {
  const script = String.raw`
marker=$1; shift
for p in "$@"; do
  case $p in *'${LEFTOVER_SUFFIX}'*) ;; *) echo "refusing to remove $p: not a migration leftover" >&2; exit 3;; esac
done
rm -rf -- "$@"
rm -f -- "$marker"
`;
  return { argv: ['sh', '-c', script, 'man8s-gc', markerFile, ...paths] };
}

/** Removes the target's copies, ONLY of paths the preflight found absent there (the migration made them). */
export function removeCopiesCommand(paths: readonly string[]): RemoteCommand | undefined {
  if (paths.length === 0) return undefined;
  for (const p of paths) if (!p.startsWith('/') || p.split('/').length < 3) throw new Error(`refusing to remove ${p}`);
  return { argv: ['rm', '-rf', '--', ...paths] };
}
