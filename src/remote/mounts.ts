/**
 * Mount preparation (MAN8S-SPEC §4) for every container a deploy is about to create, in ONE remote
 * command: a folder source is created if missing, then chown uid:gid and chmod perm on that folder only
 * (never recursive: the data inside belongs to the container); a file source is never created and must
 * already be a regular file.
 *
 * The script never deletes or truncates anything, so data folders are safe whatever the input.
 * Its output is one line per mount that failed, `FAIL<TAB>container<TAB>source<TAB>reason`; the exit code is
 * 0 even then, so one container's bad mount does not hide the others' results.
 */
import type { ResolvedMount } from '../man8s/mounts.js';
import type { RemoteCommand } from './transport.js';

export interface MountJob {
  container: string;
  mounts: readonly ResolvedMount[];
}

const PREPARE_SH = String.raw`
fail() { printf 'FAIL\t%s\t%s\t%s\n' "$name" "$src" "$1"; }
while [ $# -gt 0 ]; do
  kind=$1; name=$2; src=$3; uid=$4; gid=$5; perm=$6; shift 6
  if [ "$kind" = f ]; then
    if [ -L "$src" ] || [ ! -f "$src" ]; then fail "file mount source is missing or not a regular file (file: true mounts are never created)"; fi
    continue
  fi
  if [ -e "$src" ] && [ ! -d "$src" ]; then fail "exists and is not a folder"; continue; fi
  err=$( { mkdir -p -- "$src" && chown -- "$uid:$gid" "$src" && chmod -- "$perm" "$src"; } 2>&1 ) || fail "$(printf '%s' "$err" | tr '\n\t' '  ')"
done
`;

/**
 * Mounts shared from another container (`other:/path`) are prepared by that container, which is created
 * first (it is required), so they are skipped here. File mounts are only checked.
 */
export function prepareMountsCommand(jobs: readonly MountJob[]): RemoteCommand | undefined {
  const args: string[] = [];
  for (const job of jobs) {
    for (const m of job.mounts) {
      if (m.sharedFrom) continue;
      args.push(m.file ? 'f' : 'd', job.container, m.source, String(m.owner[0]), String(m.owner[1]), m.perm);
    }
  }
  if (args.length === 0) return undefined;
  return { argv: ['sh', '-c', PREPARE_SH, 'man8s-mounts', ...args] };
}

export interface MountFailure {
  container: string;
  source: string;
  reason: string;
}

export function parsePrepareOutput(stdout: string): MountFailure[] {
  const failures: MountFailure[] = [];
  for (const line of stdout.split('\n')) {
    const m = /^FAIL\t([^\t]*)\t([^\t]*)\t(.*)$/.exec(line);
    if (m) failures.push({ container: m[1]!, source: m[2]!, reason: m[3]!.trim() });
  }
  return failures;
}
