/** Where the sandbox keeps its files, and which hosts `--from-fleet` means. */
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { UserError } from '../errors.js';

/** The git work tree containing start (its .man8s/ holds the sandbox), or start itself outside git. */
export function findRepoRoot(start: string): string {
  let dir = resolve(start);
  for (;;) {
    if (existsSync(join(dir, '.git'))) return dir;
    const up = dirname(dir);
    if (up === dir) return resolve(start);
    dir = up;
  }
}

/**
 * Host names of a fleet: the folder names under its hosts folder. Deliberately not the fleet loader:
 * the sandbox must come up even when a host.yaml is broken, so that it can be fixed against it.
 */
export function fleetHostNames(hostsDir: string): string[] {
  let entries;
  try {
    entries = readdirSync(hostsDir, { withFileTypes: true });
  } catch {
    throw new UserError(`sandbox --from-fleet: ${hostsDir} not found; run it in a fleet repo, or give --fleet or --hosts`);
  }
  const names = entries
    .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
    .map((e) => e.name)
    .sort();
  if (names.length === 0) throw new UserError(`sandbox --from-fleet: no host folders in ${hostsDir}; give --hosts a,b,c`);
  return names;
}
