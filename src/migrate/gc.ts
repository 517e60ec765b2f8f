/**
 * `man8s gc <host>`: what migrations left on a host (the source's data, renamed and listed in markers
 * under `<storage>-state/migrated/`), and removing it. Only paths a marker lists AND that carry the
 * leftover suffix are ever removed (removeLeftoversCommand refuses anything else).
 */
import type { Connection } from '../remote/transport.js';
import { hostPaths } from '../remote/paths.js';
import { listMarkersCommand, parseMarkers, removeLeftoversCommand, type LeftoverMarker } from './leftovers.js';
import { parseProbe, probeCommand } from './copy.js';
import { UserError } from '../errors.js';

export interface Leftover {
  markerFile: string;
  marker: LeftoverMarker;
  /** Paths that still exist, with their size. */
  paths: Array<{ path: string; bytes: number }>;
}

export async function listLeftovers(conn: Connection, storagePath: string): Promise<Leftover[]> {
  const state = hostPaths(storagePath).state;
  const r = await conn.runCommand(listMarkersCommand(state), { timeoutMs: 60_000 });
  if (r.code !== 0) throw new UserError(`${conn.host}: listing migration leftovers failed: ${r.stderr.trim()}`);
  const markers = parseMarkers(r.stdout);
  const all = markers.flatMap((m) => m.marker.paths);
  const sizes = all.length ? parseProbe((await conn.runCommand(probeCommand(all), { timeoutMs: 30 * 60_000 })).stdout) : new Map();
  return markers.map((m) => ({
    markerFile: m.file,
    marker: m.marker,
    paths: m.marker.paths.flatMap((p) => {
      const found = sizes.get(p);
      return found && found.kind !== 'missing' ? [{ path: p, bytes: found.bytes }] : [];
    }),
  }));
}

export async function removeLeftover(conn: Connection, l: Leftover): Promise<void> {
  await conn.check(removeLeftoversCommand(l.markerFile, l.marker.paths).argv, `removing the leftovers of ${l.marker.name}`, { timeoutMs: 6 * 3600_000 });
}
