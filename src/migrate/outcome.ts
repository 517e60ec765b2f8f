/**
 * What a failed or interrupted migration leads to, and the one message that tells the operator where
 * the container runs now and what to type next. Pure: the record and the error in, decisions and text out.
 *
 * The rule: until the target runs (phase target-up), any failure (a UserError or any other error, a git
 * error at the switch, a bug) undoes everything so the container runs on the source again. From
 * target-up on the target serves; undoing would throw away what it wrote, so the operator chooses:
 * --resume to finish, or --abort to go back.
 */
import { ExitCode, UserError } from '../errors.js';
import { atLeast, type AbortStep, type MigrationRecord, type ResumeStep } from './state.js';

type Rec = Pick<MigrationRecord, 'name' | 'group' | 'from' | 'to' | 'phase'>;

export type FailureAction = 'interrupted' | 'hint' | 'roll-back';

export function failureAction(r: Pick<MigrationRecord, 'phase'>, err: unknown): FailureAction {
  if (err instanceof UserError && err.exitCode === ExitCode.interrupted) return 'interrupted';
  return atLeast(r, 'target-up') ? 'hint' : 'roll-back';
}

export const STEP_LABEL: Record<ResumeStep, string> = {
  copy1: 'phase 1 copy',
  stop: 'stopping on the source',
  copy2: 'phase 2 copy',
  verify: 'verifying the copy',
  switch: 'git mv (the switch)',
  'deploy-target': 'deploying on the target',
  'redeploy-affected': 'redeploying the containers that address it',
  'remove-source': 'removing it from the source',
  commit: 'committing the move',
};

/**
 * One line for any error: a UserError's own message (already names host and fix); anything else its
 * first line (git prints a paragraph), prefixed with the step it happened in.
 */
export function causeOf(err: unknown, during: string): string {
  if (err instanceof UserError) return err.message;
  const text = err instanceof Error ? err.message : String(err);
  const first = text.split('\n').map((l) => l.trim()).find(Boolean) ?? 'unknown error';
  return `${during}: ${first}`;
}

const names = (r: Rec) => r.group.join(', ');
const args = (r: Rec) => `${r.name} ${r.from} ${r.to}`;
const resumeCommand = (r: Rec) => `man8s migrate --resume ${args(r)}`;
const abortCommand = (r: Rec) => `man8s migrate --abort ${args(r)}`;

/** Where the container is, given how far an undo got (`done`: the abort steps that completed). */
export function whereItIs(r: Rec, done: readonly AbortStep[] = []): string {
  let runs: string;
  if (done.includes('start-source')) runs = `${names(r)} runs on ${r.from} again`;
  else if (done.includes('remove-target-containers')) runs = `${names(r)} is not running anywhere: removed on ${r.to}, not yet started again on ${r.from}`;
  else if (atLeast(r, 'target-up')) runs = `${names(r)} runs on ${r.to}`;
  else if (atLeast(r, 'stopped')) runs = `${names(r)} is STOPPED on ${r.from} (downtime continues)`;
  else runs = `${names(r)} still runs on ${r.from}`;
  const git = atLeast(r, 'switched') && !done.includes('revert-git') ? 'the work tree holds the uncommitted git mv' : 'git is unchanged';
  return `${runs}, ${git}`;
}

export function interruptedMessage(r: Rec): string {
  return `interrupted during phase ${r.phase} (${whereItIs(r)}); continue with ${resumeCommand(r)}, or undo with ${abortCommand(r)}`;
}

export function afterTargetUpMessage(r: Rec, cause: string): string {
  return `${cause}; ${names(r)} runs on ${r.to} now: finish the migration with ${resumeCommand(r)}, or go back to ${r.from} with ${abortCommand(r)}`;
}

/** The target's copy, set aside by an undo after the switch. */
export function setAsideNote(r: Rec, paths: readonly string[]): string {
  return (
    `${r.to} keeps its copy as ${paths.join(', ')}: ${names(r)} may have run on ${r.to} after the switch, and whatever it wrote there ` +
    `is in that copy, not on ${r.from}; man8s gc ${r.to} lists and removes it`
  );
}

export function rolledBackMessage(r: Rec, cause: string, setAside: readonly string[]): string {
  return `migration of ${r.name} failed and was rolled back: ${whereItIs(r, ['start-source', 'revert-git'])}${setAside.length ? `; ${setAsideNote(r, setAside)}` : ''}; cause: ${cause}`;
}

/**
 * An undo that failed itself. The record stays on the hosts (it is deleted only after the last step),
 * so --abort can finish the undo; --resume is refused once an undo began (record.aborting).
 */
export function undoFailedMessage(r: Rec, undoCause: string, done: readonly AbortStep[], cause?: string): string {
  const head = cause ? `migration of ${r.name} failed, and rolling it back failed too: ${undoCause}` : `undoing the migration of ${r.name} failed: ${undoCause}`;
  return (
    `${head}; now ${whereItIs(r, done)}; the migration record is kept on ${r.from} and ${r.to}: once that is fixed ` +
    `(a lost connection: once both hosts answer again), finish the undo with ${abortCommand(r)}${cause ? `; cause: ${cause}` : ''}`
  );
}

export function resumeRefusedMessage(r: Rec): string {
  return `an undo of the migration of ${r.name} (${r.from} → ${r.to}) already began at phase ${r.phase}: ${r.from} may run on its own data again, so it cannot be resumed; finish the undo with ${abortCommand(r)}`;
}
