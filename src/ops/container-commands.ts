/**
 * Argv builders for the day-2 container commands (shell, netshell, engine passthrough). Pure: every value
 * travels as an argument (positional parameters of a fixed script), never spliced into shell text.
 */
import { engineCli, execArgv, type EngineTarget } from '../remote/engine.js';

/** bash when the image has it, else sh (mbctl shell). */
export const SHELL_SCRIPT = 'if command -v bash >/dev/null 2>&1; then exec bash; else exec sh; fi';

/** A shell inside the container; `-i` always so piped input reaches it, `-t` with a local terminal. */
export function containerShellArgv(t: EngineTarget, name: string, tty: boolean): string[] {
  return execArgv(t, name, ['sh', '-c', SHELL_SCRIPT], { interactive: true, tty });
}

export function containerExecArgv(t: EngineTarget, name: string, command: string[], tty: boolean): string[] {
  return execArgv(t, name, command, { interactive: true, tty });
}

/**
 * mbctl shell --network: the HOST's shell (bash, else sh) in the container's network namespace only,
 * for network debugging with the host's tools. The pid comes from inspect on the host in the same
 * command, so there is no race between looking it up and entering it over two round trips.
 * Args: NAME, then the engine CLI prefix.
 */
export const NETSHELL_SCRIPT = String.raw`name=$1; shift
pid=$("$@" inspect --format '{{.State.Pid}}' "$name") || exit 1
case $pid in ''|0|*[!0-9]*) echo "man8s: container $name is not running (no process to enter); start it first" >&2; exit 1;; esac
command -v nsenter >/dev/null 2>&1 || { echo "man8s: nsenter is missing on the host; install util-linux" >&2; exit 127; }
if command -v bash >/dev/null 2>&1; then exec nsenter -t "$pid" -n bash; else exec nsenter -t "$pid" -n sh; fi`;

export function netShellArgv(t: EngineTarget, name: string): string[] {
  return ['sh', '-c', NETSHELL_SCRIPT, 'man8s-netshell', name, ...engineCli(t)];
}

/** `man8s nerdctl <host> -- args`: the host's engine with the Man8S namespace/snapshotter (nerdctl) or plain docker. */
export function passthroughArgv(t: EngineTarget, args: readonly string[]): string[] {
  return [...engineCli(t), ...args];
}

/**
 * Runs "$@" until it ends or until the session's stdin closes, whichever comes first. OpenSSH does not
 * signal a command without a pty when the session ends, so `logs -f` on a quiet container would keep
 * running on the host after Ctrl-C; here the end of stdin (the channel closing) stops it. The caller keeps
 * stdin open, writing nothing, for as long as it wants the command to run.
 */
const UNTIL_STDIN_CLOSES_SCRIPT = String.raw`exec 3<&0
"$@" </dev/null &
p=$!
{ read -r _ <&3; kill "$p" 2>/dev/null; } &
w=$!
wait "$p"; rc=$?
kill "$w" 2>/dev/null
exit "$rc"`;

export function untilStdinClosesArgv(argv: readonly string[]): string[] {
  return ['sh', '-c', UNTIL_STDIN_CLOSES_SCRIPT, 'man8s-follow', ...argv];
}
