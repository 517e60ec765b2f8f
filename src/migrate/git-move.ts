/**
 * The git side of a migration: `git mv` of each moved container's conf and plugin folders from
 * hosts/<from>/ to hosts/<to>/, its reverse for a rollback, and the final commit of exactly the moved
 * folders plus the deployed.yaml files the migration wrote. Every step is idempotent (a resumed run
 * repeats it safely): a folder already moved is left as it is.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { SYNCED_TYPES } from '../fleet/model.js';
import { headCommit, type FleetRepo } from '../git/repo.js';
import { deployedPath } from '../git/deployed.js';
import { UserError } from '../errors.js';

export interface MovePaths {
  /** Absolute hosts/<host> folders. */
  fromDir: string;
  toDir: string;
  group: readonly string[];
}

/** Folder pairs (absolute) that move, conf and plugin of each member. */
export function movedFolders(p: MovePaths): Array<{ from: string; to: string }> {
  return p.group.flatMap((name) => SYNCED_TYPES.map((t) => ({ from: join(p.fromDir, t, name), to: join(p.toDir, t, name) })));
}

async function move(repo: FleetRepo, from: string, to: string): Promise<boolean> {
  if (!existsSync(from)) return false; // plugin folders are optional; or already moved
  if (existsSync(to)) {
    throw new UserError(`${relative(repo.root, to)} already exists in the work tree, so ${relative(repo.root, from)} cannot move there; move or remove it, then run man8s migrate --resume`);
  }
  mkdirSync(dirname(to), { recursive: true });
  await repo.git.raw(['mv', '--', relative(repo.root, from), relative(repo.root, to)]);
  return true;
}

/** hosts/<from>/{conf,plugin}/<name> → hosts/<to>/…, staged (not committed). */
export async function gitMoveGroup(repo: FleetRepo, p: MovePaths): Promise<string[]> {
  const moved: string[] = [];
  for (const f of movedFolders(p)) if (await move(repo, f.from, f.to)) moved.push(relative(repo.root, f.to));
  return moved;
}

/** The reverse, for a rollback after the switch. */
export async function gitMoveGroupBack(repo: FleetRepo, p: MovePaths): Promise<string[]> {
  const moved: string[] = [];
  for (const f of movedFolders(p)) if (await move(repo, f.to, f.from)) moved.push(relative(repo.root, f.from));
  return moved;
}

/** True when every member's conf folder is already under hosts/<to>/ (the switch happened). */
export function groupIsMoved(p: MovePaths): boolean {
  return p.group.every((name) => existsSync(join(p.toDir, 'conf', name)) && !existsSync(join(p.fromDir, 'conf', name)));
}

/**
 * Commits the moved folders (both sides, so git records the rename) and the given deployed.yaml files,
 * and nothing else that may be staged. Returns the commit, or the current HEAD when there was nothing to
 * commit (a resumed run after the commit).
 */
export async function commitMove(repo: FleetRepo, p: MovePaths, records: readonly string[], message: string): Promise<string> {
  const folders = movedFolders(p).flatMap((f) => [f.from, f.to]).map((f) => relative(repo.root, f));
  const files = records.map((f) => relative(repo.root, f));
  const existing = [...folders, ...files].filter((f) => existsSync(join(repo.root, f)));
  if (existing.length > 0) await repo.git.raw(['add', '-A', '--', ...existing]);
  // Only paths git knows (in HEAD or the index) may be named in a commit pathspec.
  const candidates = [...folders, ...files];
  const lines = [
    ...(await repo.git.raw(['ls-files', '--cached', '--', ...candidates])).split('\n'),
    ...(await repo.git.raw(['ls-tree', '-r', '--name-only', 'HEAD', '--', ...candidates])).split('\n'),
  ].filter(Boolean);
  const pathspec = candidates.filter((c) => lines.some((l) => l === c || l.startsWith(`${c}/`)));
  if (pathspec.length === 0) return headCommit(repo);
  const staged = (await repo.git.raw(['diff', '--cached', '--name-only', 'HEAD', '--', ...pathspec])).trim();
  if (staged === '') return headCommit(repo);
  await repo.git.raw(['commit', '--quiet', '-m', message, '--', ...pathspec]);
  return headCommit(repo);
}

/**
 * Every deployed.yaml a migration may have written: the source's, the target's and each redeployed
 * neighbour's host. Derived from the record, not remembered by the run, so a --resume after a killed run
 * commits what that run wrote (commitMove leaves out files with nothing to commit).
 */
export function migrationDeployedFiles(
  record: { from: string; to: string; affected: ReadonlyArray<{ host: string }> },
  recordDir: (host: string) => string | undefined,
): string[] {
  const hosts = new Set([record.from, record.to, ...record.affected.map((a) => a.host)]);
  return [...hosts].flatMap((h) => {
    const dir = recordDir(h);
    return dir ? [deployedPath(dir)] : [];
  });
}
