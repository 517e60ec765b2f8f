import { existsSync } from 'node:fs';
import { dirname, join, relative, resolve, isAbsolute } from 'node:path';

/**
 * The git work tree holding `start`: the nearest folder upwards with a `.git` entry (a folder, or a file
 * in worktrees and submodules). Walking the tree instead of running `git rev-parse` keeps loading free of
 * subprocesses.
 */
export function gitTopLevel(start: string): string | undefined {
  let dir = resolve(start);
  for (;;) {
    if (existsSync(join(dir, '.git'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

export function isInside(path: string, folder: string): boolean {
  const rel = relative(folder, path);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

/**
 * The repo root where man8s.yaml is looked for and deployed.yaml commits go: the git top-level of the
 * current directory, or the current directory outside git. An explicit `--fleet` outside that tree
 * belongs to another repo, so its own git top-level wins (or its parent folder outside git).
 */
export function findRepoRoot(cwd: string, explicitFleetRoot?: string): string {
  const fromCwd = gitTopLevel(cwd) ?? resolve(cwd);
  if (!explicitFleetRoot || isInside(explicitFleetRoot, fromCwd)) return fromCwd;
  return gitTopLevel(explicitFleetRoot) ?? dirname(explicitFleetRoot);
}

/** A path for messages: relative to the current directory, or absolute when that reads shorter. */
export function displayPath(cwd: string, abs: string): string {
  const rel = relative(cwd, abs);
  if (rel === '') return '.';
  // Outside the current directory, `../../x` only helps while it is shorter than the absolute path.
  return rel.startsWith('..') && abs.length <= rel.length ? abs : rel;
}
