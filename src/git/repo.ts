import { simpleGit, type SimpleGit } from 'simple-git';
import { relative } from 'node:path';
import { UserError } from '../errors.js';

/**
 * The git side of man8s: what is committed, what changed since a deploy, and the write-back commit.
 * Everything goes through `git` itself (simple-git), so hooks, signing config and credentials behave as
 * the operator's own git does.
 */
export interface FleetRepo {
  root: string;
  git: SimpleGit;
}

export async function openRepo(root: string): Promise<FleetRepo> {
  const git = simpleGit({ baseDir: root });
  if (!(await git.checkIsRepo())) {
    throw new UserError(`${root} is not a git repository: man8s records what it deploys as commits (run git init, then commit the fleet)`);
  }
  return { root, git };
}

export async function headCommit(repo: FleetRepo): Promise<string> {
  try {
    return (await repo.git.revparse(['HEAD'])).trim();
  } catch {
    throw new UserError(`${repo.root} has no commit yet: commit the fleet first (git add -A && git commit)`);
  }
}

/** Uncommitted changes (staged, unstaged or untracked) below `paths`, as repo-relative paths. */
export async function uncommittedChanges(repo: FleetRepo, paths: string[]): Promise<string[]> {
  const rel = paths.map((p) => relative(repo.root, p) || '.');
  const out = await repo.git.raw(['status', '--porcelain=v1', '-z', '--untracked-files=all', '--', ...rel]);
  const changed: string[] = [];
  const records = out.split('\0');
  for (let i = 0; i < records.length; i++) {
    const rec = records[i]!;
    if (rec.length < 4) continue;
    changed.push(rec.slice(3));
    // A rename record is followed by its source path, which is not a change of its own.
    if (rec[0] === 'R' || rec[0] === 'C') i++;
  }
  return changed;
}

/** Refuses to deploy a work tree with uncommitted changes: what runs on hosts must be a commit. */
export async function assertCommitted(repo: FleetRepo, paths: string[]): Promise<void> {
  const changed = await uncommittedChanges(repo, paths);
  if (changed.length === 0) return;
  const shown = changed.slice(0, 5).join(', ') + (changed.length > 5 ? `, … (${changed.length} in all)` : '');
  throw new UserError(
    `the fleet has uncommitted changes (${shown}): commit them first, or pass --allow-dirty to deploy the work tree as it is`,
  );
}

export async function commitExists(repo: FleetRepo, rev: string): Promise<boolean> {
  try {
    await repo.git.raw(['cat-file', '-e', `${rev}^{commit}`]);
    return true;
  } catch {
    return false;
  }
}

/** Repo-relative paths changed between `since` and HEAD below `paths` (renames count on both sides). */
export async function changedSince(repo: FleetRepo, since: string, paths: string[]): Promise<string[]> {
  if (!(await commitExists(repo, since))) {
    throw new UserError(
      `commit ${since} is not in this clone: fetch the full history (in CI: a checkout with fetch-depth 0) or pass --since with a commit that exists`,
    );
  }
  const rel = paths.map((p) => relative(repo.root, p) || '.');
  const out = await repo.git.raw(['diff', '--name-only', '-z', '--no-renames', since, 'HEAD', '--', ...rel]);
  return out.split('\0').filter(Boolean);
}

/**
 * Commits exactly `files` (repo-relative or absolute), whatever else is staged, and returns the new commit.
 * Returns null when they have no change to commit.
 */
export async function commitFiles(repo: FleetRepo, files: string[], message: string): Promise<string | null> {
  const rel = files.map((f) => relative(repo.root, f));
  await repo.git.raw(['add', '--', ...rel]);
  const staged = await repo.git.raw(['diff', '--cached', '--name-only', '--', ...rel]);
  if (staged.trim() === '') return null;
  await repo.git.raw(['commit', '--quiet', '-m', message, '--', ...rel]);
  return headCommit(repo);
}

/**
 * Pushes HEAD to its upstream. When someone pushed meanwhile (non-fast-forward), rebases onto theirs and
 * tries again: the write-back commit only touches deployed.yaml files, so the rebase is normally clean.
 */
export async function pushWithRetry(repo: FleetRepo, attempts = 3): Promise<void> {
  let lastError = '';
  for (let attempt = 1; attempt <= attempts; attempt++) {
    try {
      await repo.git.raw(['push', '--quiet']);
      return;
    } catch (err) {
      lastError = err instanceof Error ? err.message.trim() : String(err);
      const rejected = /non-fast-forward|fetch first|rejected|failed to push/i.test(lastError);
      if (!rejected || attempt === attempts) break;
      try {
        await repo.git.raw(['pull', '--rebase', '--quiet']);
      } catch (pullErr) {
        await repo.git.raw(['rebase', '--abort']).catch(() => undefined);
        const why = pullErr instanceof Error ? pullErr.message.trim() : String(pullErr);
        throw new UserError(`git push was rejected and rebasing onto the remote failed (${firstLine(why)}): resolve it by hand, then git push`);
      }
    }
  }
  throw new UserError(`git push failed after ${attempts} attempts (${firstLine(lastError)}): the deploy itself succeeded; push the write-back commit by hand`);
}

function firstLine(text: string): string {
  return text.split('\n').find((l) => l.trim() !== '')?.trim() ?? text;
}
