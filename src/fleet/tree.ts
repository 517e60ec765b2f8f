import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join, posix } from 'node:path';
import type { TreeEntry } from './model.js';

/** A problem with one entry of a tree; `path` is relative to the tree's folder. */
export interface TreeProblem {
  path: string;
  message: string;
}

export interface Tree {
  entries: TreeEntry[];
  problems: TreeProblem[];
}

/**
 * Every file, folder and symlink under `dir` (not `dir` itself), sorted by path, as they will be synced
 * to the host. `label` names the folder in messages (e.g. `conf/relink-nginx`). Symlinks are recorded,
 * never followed: a link that is absolute or climbs out of `dir` would point at a different file on the
 * host (or at the host's own files), so it is a problem.
 */
export function readTree(dir: string, label: string): Tree {
  const entries: TreeEntry[] = [];
  const problems: TreeProblem[] = [];
  const walk = (rel: string) => {
    // Dirent types spare an lstat per folder and symlink; only files need one, for the executable bit.
    const dirents = readdirSync(rel ? join(dir, rel) : dir, { withFileTypes: true }).sort(byName);
    for (const d of dirents) {
      const path = rel ? `${rel}/${d.name}` : d.name;
      const abs = join(dir, path);
      if (d.isSymbolicLink()) {
        const target = readlinkSync(abs);
        entries.push({ path, kind: 'symlink', mode: gitMode(0, true, false), target });
        const problem = symlinkProblem(path, target, label);
        if (problem) problems.push({ path, message: problem });
      } else if (d.isDirectory()) {
        entries.push({ path, kind: 'dir', mode: gitMode(0, false, true) });
        walk(path);
      } else if (d.isFile()) {
        const content = readFileSync(abs);
        const mode = gitMode(lstatSync(abs).mode, false, false);
        entries.push({ path, kind: 'file', mode, size: content.length, sha256: createHash('sha256').update(content).digest('hex') });
      } else {
        problems.push({ path, message: `${label}/${path} is not a regular file, folder or symlink (a socket, fifo or device cannot be synced)` });
      }
    }
  };
  walk('');
  // readdir order per folder plus depth-first gives parent-before-child but not a global sort; callers
  // hash these lists, so make the order independent of traversal.
  entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { entries: withoutEmptyFolders(entries), problems };
}

/**
 * The entries without the folders that hold nothing but more such folders (unless listed in `keep`).
 * Git stores no empty folder: one left behind in a checkout (a branch switch, a deleted file's parent)
 * exists on one laptop and not in CI, so counting it would make the same commit hash differently on
 * different machines. Trees are therefore read, and compared with hosts, as git holds them.
 */
export function withoutEmptyFolders(entries: readonly TreeEntry[], keep: ReadonlySet<string> = new Set()): TreeEntry[] {
  const holdsContent = new Set<string>();
  for (const e of entries) {
    if (e.kind === 'dir') continue;
    for (let i = e.path.lastIndexOf('/'); i > 0; i = e.path.lastIndexOf('/', i - 1)) holdsContent.add(e.path.slice(0, i));
  }
  return entries.filter((e) => e.kind !== 'dir' || holdsContent.has(e.path) || keep.has(e.path));
}

/** Sorts directory entries by name, as readdirSync(...).sort() would sort the names. */
export const byName = (a: { name: string }, b: { name: string }): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/**
 * The mode git would give the entry: git records only a file's executable bit, so a checkout's modes
 * depend on the umask of whoever cloned. Normalising (0755/0644 files, 0755 folders) makes the trees,
 * their hashes and the modes rsync writes on hosts the same from every laptop and CI runner.
 */
export function gitMode(mode: number, symlink: boolean, dir: boolean): number {
  if (symlink) return 0o777;
  if (dir) return 0o755;
  return mode & 0o100 ? 0o755 : 0o644;
}

function symlinkProblem(path: string, target: string, label: string): string | undefined {
  if (target.startsWith('/')) {
    return `symlink ${label}/${path} -> ${target} is absolute; links in ${label}/ must be relative and stay inside it`;
  }
  const resolved = posix.normalize(posix.join(posix.dirname(path), target));
  if (resolved === '..' || resolved.startsWith('../')) {
    return `symlink ${label}/${path} -> ${target} points outside ${label}/; links must stay inside the container's folder`;
  }
  return undefined;
}
