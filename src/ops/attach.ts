/**
 * Running a remote command attached to the local terminal, the way `ssh` does: with a pseudo-terminal
 * when we have one (raw local input, so Ctrl-C, Ctrl-D and arrow keys reach the remote program; window
 * size sent at start and on every resize), plain pipes otherwise (scripts, tests: stdin is passed
 * through, stdout and stderr stay apart). The remote exit code is returned, for the caller to exit with.
 */
import { PassThrough } from 'node:stream';
import type { ClientChannel } from 'ssh2';
import type { Connection } from '../remote/transport.js';

export interface AttachOptions {
  /** Allocate a remote pty (see wantTty). */
  tty: boolean;
  /** Pass local stdin to the remote command (false: it gets EOF at once, e.g. for logs). */
  stdin: boolean;
  /**
   * Without stdin: keep the remote stdin open (nothing written) until Ctrl-C, for a command wrapped in
   * untilStdinClosesArgv (logs -f), so that Ctrl-C stops it on the host too.
   */
  holdStdin?: boolean;
}

/** After Ctrl-C, how long the remote side has to report its end before man8s stops waiting. */
const INTERRUPT_GRACE_MS = 3000;

/**
 * --tty / --no-tty when given; else a pty only when both stdin and stdout are terminals, so
 * `man8s exec x -- cat f > copy` is not mangled by pty line endings even when typed at a terminal.
 */
export function wantTty(flag: boolean | undefined): boolean {
  return flag ?? (process.stdin.isTTY === true && process.stdout.isTTY === true);
}

export async function attach(conn: Connection, argv: readonly string[], o: AttachOptions): Promise<number> {
  const stdin = process.stdin;
  const abort = new AbortController();
  const held = !o.stdin && o.holdStdin ? new PassThrough() : undefined;
  let giveUpLater = (): void => undefined;
  const gaveUp = new Promise<number>((resolve) => (giveUpLater = () => void setTimeout(() => resolve(130), INTERRUPT_GRACE_MS).unref()));
  // With a pty, Ctrl-C is a byte for the remote side (raw mode means no local SIGINT). Without one, it
  // ends the session here, as ssh without -t does: a held stdin ends first (the remote watchdog stops
  // the command and its exit comes back), then the channel closes; man8s exits 130, waiting no longer
  // than the grace for a host that does not answer.
  const onSigint = (): void => {
    if (held && !held.writableEnded) {
      held.end();
      setTimeout(() => abort.abort(), 1000).unref();
    } else abort.abort();
    giveUpLater();
  };
  process.on('SIGINT', onSigint);
  let channel: ClientChannel | undefined;
  const onResize = (): void => {
    channel?.setWindow(process.stdout.rows || 24, process.stdout.columns || 80, 0, 0);
  };
  const raw = o.tty && stdin.isTTY === true;
  if (raw) stdin.setRawMode(true);
  if (o.tty) process.stdout.on('resize', onResize);
  try {
    const session = conn.stream(argv, {
      ...(o.stdin ? { stdin } : held ? { stdin: held } : {}),
      ...(o.tty ? { pty: { term: process.env.TERM || 'xterm-256color', rows: process.stdout.rows || 24, cols: process.stdout.columns || 80, height: 0, width: 0 } } : {}),
      onStdout: (c) => process.stdout.write(c),
      onStderr: (c) => process.stderr.write(c),
      signal: abort.signal,
      onChannel: (ch) => {
        channel = ch;
        // Local input that arrives after the remote side closed must not crash the run.
        ch.on('error', () => undefined);
      },
    });
    // When the grace wins, the session may still end later, with an error once the connection closes.
    session.catch(() => undefined);
    const code = await Promise.race([session, gaveUp]);
    return abort.signal.aborted || held?.writableEnded ? 130 : code;
  } finally {
    held?.end();
    process.off('SIGINT', onSigint);
    if (o.tty) process.stdout.off('resize', onResize);
    if (raw) stdin.setRawMode(false);
    if (o.stdin) {
      // The remote side finished first: stop reading so the process can exit (like ssh does).
      stdin.unpipe();
      stdin.destroy();
    }
  }
}
