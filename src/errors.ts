/**
 * An error the user can cause and fix (bad config, unreachable host, lock held…).
 * The CLI prints its message as one line, without a stack trace, and exits with `exitCode`.
 * Put the fix in the message: "relink: host key changed (SHA256:…); if expected, remove the old key with ssh-keygen -R …".
 */
export class UserError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = 1,
  ) {
    super(message);
    this.name = 'UserError';
  }
}

/** Exit codes, documented in the README. */
export const ExitCode = {
  ok: 0,
  error: 1,
  /** `plan --detailed-exitcode`: the plan has changes. */
  changes: 2,
  /** Interrupted by Ctrl-C (128 + SIGINT). */
  interrupted: 130,
} as const;
