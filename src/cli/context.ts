import { formatDiagnostic } from '../fleet/model.js';
import type { Diagnostic, Fleet } from '../fleet/model.js';
import { loadFleet, sortDiagnostics } from '../fleet/load.js';
import { checkFleet } from '../man8s/check.js';
import { UserError } from '../errors.js';
import type { GlobalOptions } from './global.js';
import { applySandboxOverlay, readSandboxOverlay } from '../sandbox/overlay.js';

export interface CheckedFleet {
  fleet: Fleet;
  /** Loader diagnostics plus the Man8S rules' (checkFleet), sorted by file, line, column. */
  diagnostics: Diagnostic[];
}

/**
 * Loads the fleet named by the global options and runs every check, without judging the result:
 * `man8s validate` prints the diagnostics, other commands go through loadFleetOrFail.
 */
export async function loadCheckedFleet(args: Pick<GlobalOptions, 'fleet'>, cwd: string = process.cwd()): Promise<CheckedFleet> {
  const { fleet, diagnostics } = await loadFleet({ cwd, fleet: args.fleet, cache: true });
  // checkFleet only sees hosts and containers that passed the loader, so the two never report the same thing.
  return { fleet, diagnostics: sortDiagnostics([...diagnostics, ...checkFleet(fleet)]) };
}

/**
 * The fleet every command works on, valid or a UserError listing each problem as `file:line:col: message`:
 * no command acts on a fleet that `man8s validate` would reject.
 */
export async function loadFleetOrFail(args: GlobalOptions, cwd: string = process.cwd()): Promise<Fleet> {
  const { fleet, diagnostics } = await loadCheckedFleet(args, cwd);
  if (diagnostics.length > 0) throw new UserError(problemsMessage(diagnostics));
  return withSandboxOverlay(fleet, args);
}

export function problemsMessage(diagnostics: Diagnostic[]): string {
  const count = diagnostics.length === 1 ? '1 problem' : `${diagnostics.length} problems`;
  return [`the fleet has ${count}; fix ${diagnostics.length === 1 ? 'it' : 'them'} first:`, ...diagnostics.map(formatDiagnostic)].join('\n');
}

/**
 * With --sandbox (or MAN8S_SANDBOX=1), hosts are redirected to the local sandbox: ssh destination and
 * config, real yggdrasil address, engine and storage path come from .man8s/sandbox.json. Applied after
 * validation, so the overlay never hides a problem in the real fleet.
 */
function withSandboxOverlay(fleet: Fleet, args: GlobalOptions): Fleet {
  return args.sandbox ? applySandboxOverlay(fleet, readSandboxOverlay(fleet.repoRoot)) : fleet;
}
