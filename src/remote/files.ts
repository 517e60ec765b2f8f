/**
 * Putting conf/plugin files back after a failed deploy, and setting folders aside instead of deleting
 * them. Both run on the host in ONE command and only ever touch `<storage>/conf|plugin/<name>/…` and the
 * deploy's backup folder: never data, log, cache or socket.
 *
 * The backup folder is rsync's --backup-dir: the previous version of every file the sync changed or
 * deleted sits there at the same relative path (`conf/<name>/<path>`).
 */
import type { RemoteCommand } from './transport.js';
import type { FileChange } from '../plan/diff.js';
import { assertSafeName } from './paths.js';

const RESTORE_SH = String.raw`
storage=$1; backup=$2; shift 2
# Entries the deploy added: remove files and links first, then folders deepest first (rmdir only if empty).
while [ "$1" != -- ]; do rm -f -- "$storage/$1"; shift; done; shift
while [ "$1" != -- ]; do rmdir -- "$storage/$1" 2>/dev/null || true; shift; done; shift
# Entries the deploy changed or removed: move the previous version back.
for rel; do
  if [ -e "$backup/$rel" ] || [ -L "$backup/$rel" ]; then
    mkdir -p -- "$(dirname -- "$storage/$rel")"
    rm -rf -- "$storage/$rel"
    mv -f -- "$backup/$rel" "$storage/$rel"
  else
    echo "MISSING $rel"
  fi
done
`;

/** Undoes the sync of one container's files (its FileChange list from the plan). */
export function restoreFilesCommand(o: { storage: string; backupDir: string; name: string; changes: readonly FileChange[] }): RemoteCommand {
  assertSafeName(o.name);
  const rel = (c: FileChange) => `${c.type}/${o.name}/${c.path}`;
  const added = o.changes.filter((c) => c.change === 'added');
  const addedFiles = added.filter((c) => c.kind !== 'dir').map(rel);
  const addedDirs = added
    .filter((c) => c.kind === 'dir')
    .map(rel)
    .sort((a, b) => b.split('/').length - a.split('/').length);
  const previous = o.changes.filter((c) => c.change !== 'added' && c.kind !== 'dir').map(rel);
  return { argv: ['sh', '-c', RESTORE_SH, 'man8s-restore', o.storage, o.backupDir, ...addedFiles, '--', ...addedDirs, '--', ...previous] };
}

/** Lines `MISSING <rel>` name previous versions that were not in the backup (nothing to put back). */
export function parseRestoreOutput(stdout: string): string[] {
  return stdout.split('\n').flatMap((l) => (l.startsWith('MISSING ') ? [l.slice(8)] : []));
}

const SET_ASIDE_SH = String.raw`
storage=$1; backup=$2; shift 2
for rel; do
  [ -e "$storage/$rel" ] || continue
  mkdir -p -- "$(dirname -- "$backup/$rel")"
  mv -- "$storage/$rel" "$backup/$rel"
done
`;

/**
 * Moves whole container folders (`conf/<name>`, `plugin/<name>`) into the backup folder: what --prune and
 * a folder removed from git do. Moving, not deleting, keeps them recoverable.
 */
export function setAsideFoldersCommand(o: { storage: string; backupDir: string; folders: ReadonlyArray<{ type: 'conf' | 'plugin'; name: string }> }): RemoteCommand {
  const rels = o.folders.map((f) => (assertSafeName(f.name), `${f.type}/${f.name}`));
  return { argv: ['sh', '-c', SET_ASIDE_SH, 'man8s-set-aside', o.storage, o.backupDir, ...rels] };
}
