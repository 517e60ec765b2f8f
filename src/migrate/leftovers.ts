/**
 * Data a migration set aside instead of deleting, on either host:
 * - `migrated`: the source's data after a successful migration, renamed in place to
 *   `<path>.man8s-migrated-<stamp>`. The rename keeps a later container of the same name on this host
 *   from picking the old data up.
 * - `aborted`: the target's copy after an abort once the target may have run (phase switched or later),
 *   renamed to `<path>.man8s-aborted-<stamp>`. The container went back to the source's data as it was at
 *   the stop, so whatever it wrote on the target since exists only here.
 * Both are renames in the same folder (same filesystem: never a copy, however big the data), listed in a
 * marker `<storage>-state/migrated/<name>-[aborted-]<stamp>.json`; the marker is what `man8s gc <host>`
 * and `--purge-source` remove. Target data of a migration that failed before the switch is removed the
 * careful way: only paths the migration itself created (the source still has the authoritative data).
 */
import { assertSafeName } from '../remote/paths.js';
import type { RemoteCommand } from '../remote/transport.js';

export type LeftoverKind = 'migrated' | 'aborted';

export const LEFTOVER_SUFFIX = '.man8s-migrated-';
const ABORTED_SUFFIX = '.man8s-aborted-';

export interface LeftoverMarker {
  name: string;
  /** Where the container went: the target (migrated), or back to the source (aborted). */
  to: string;
  at: string;
  paths: string[];
  /** Absent in markers written before aborted copies existed: those are `migrated`. */
  kind?: LeftoverKind;
}

export function leftoverStamp(d: Date): string {
  return d.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}

export function leftoverSuffix(kind: LeftoverKind, stamp: string): string {
  return `${kind === 'aborted' ? ABORTED_SUFFIX : LEFTOVER_SUFFIX}${stamp}`;
}

export function markerPath(statePath: string, name: string, stamp: string, kind: LeftoverKind = 'migrated'): string {
  assertSafeName(name);
  return `${statePath}/migrated/${name}-${kind === 'aborted' ? 'aborted-' : ''}${stamp}.json`;
}

/** Shell prelude: `has <path>` is true for anything there, a dangling link too (`-e` alone misses it). */
const HAS_SH = 'has() { [ -e "$1" ] || [ -L "$1" ]; }';

/**
 * Renames each existing path and writes the marker, in one command; prints every path now set aside,
 * including those a previous (killed) run renamed, so the step can run twice. Never renames onto an
 * existing name (mv would nest the folder inside it): that fails the command.
 */
export function renameLeftoversCommand(statePath: string, marker: Omit<LeftoverMarker, 'paths'> & { kind: LeftoverKind }, stamp: string, paths: readonly string[]): RemoteCommand {
  // The marker is written first: a run killed between the two leaves a marker for gc, never unlisted data.
  const script = String.raw`
set -e
${HAS_SH}
marker=$1; suffix=$2; json=$3; shift 3
mkdir -p "$(dirname "$marker")"
printf '%s' "$json" >"$marker"
for p in "$@"; do
  if has "$p$suffix"; then
    if has "$p"; then echo "$p$suffix already exists: not renaming $p onto it" >&2; exit 4; fi
    printf '%s\n' "$p$suffix"
  elif has "$p"; then mv -T -- "$p" "$p$suffix"; printf '%s\n' "$p$suffix"; fi
done
`;
  const suffix = leftoverSuffix(marker.kind, stamp);
  const json = `${JSON.stringify({ ...marker, paths: paths.map((p) => `${p}${suffix}`) } satisfies LeftoverMarker, null, 2)}\n`;
  return { argv: ['sh', '-c', script, 'man8s-leftovers', markerPath(statePath, marker.name, stamp, marker.kind), suffix, json, ...paths] };
}

/**
 * The reverse of renameLeftoversCommand for a run killed between renaming the source data and recording
 * it: each `<path><suffix>` goes back to `<path>` when `<path>` is free. The marker goes too once nothing
 * it lists is left (else gc would list a stale empty entry); a path present under both names stays
 * listed, and is printed, for the operator to look at. Any failed rename fails the command.
 */
export function restoreLeftoversCommand(markerFile: string, suffix: string, paths: readonly string[]): RemoteCommand {
  const script = String.raw`
set -e
${HAS_SH}
marker=$1; suffix=$2; shift 2
left=0
for p in "$@"; do
  if has "$p$suffix"; then
    if has "$p"; then printf 'both %s and %s exist: kept both\n' "$p" "$p$suffix"; left=1
    else mv -T -- "$p$suffix" "$p"; printf 'restored %s\n' "$p"; fi
  fi
done
[ "$left" = 1 ] || rm -f -- "$marker"
`;
  return { argv: ['sh', '-c', script, 'man8s-restore-leftovers', markerFile, suffix, ...paths] };
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
 * Removes leftovers. Refuses (exit 3) any path that does not carry a leftover suffix: this command
 * can only ever delete what a migration renamed.
 */
export function removeLeftoversCommand(markerFile: string, paths: readonly string[]): RemoteCommand {
  const script = String.raw`
marker=$1; shift
for p in "$@"; do
  case $p in *'${LEFTOVER_SUFFIX}'*|*'${ABORTED_SUFFIX}'*) ;; *) echo "refusing to remove $p: not a migration leftover" >&2; exit 3;; esac
done
rm -rf -- "$@" || exit $?
rm -f -- "$marker"
`;
  return { argv: ['sh', '-c', script, 'man8s-gc', markerFile, ...paths] };
}

/**
 * Removes the target's copies, ONLY of paths the preflight found absent there (the migration made them),
 * and only before the switch: until then the source holds the authoritative data.
 */
export function removeCopiesCommand(paths: readonly string[]): RemoteCommand | undefined {
  if (paths.length === 0) return undefined;
  for (const p of paths) if (!p.startsWith('/') || p.split('/').length < 3) throw new Error(`refusing to remove ${p}`);
  return { argv: ['rm', '-rf', '--', ...paths] };
}
