import type { Argv, CommandModule } from 'yargs';
import { UserError } from '../../errors.js';
import type { HostSpec } from '../../fleet/model.js';
import { openHost } from '../../apply/hosts.js';
import { engineTarget, logsArgv } from '../../remote/engine.js';
import { attach, wantTty, type AttachOptions } from '../../ops/attach.js';
import { containerExecArgv, containerShellArgv, netShellArgv, untilStdinClosesArgv } from '../../ops/container-commands.js';
import { findContainer } from '../../ops/find-container.js';
import { loadFleetOrFail } from '../context.js';
import type { GlobalOptions } from '../global.js';
import { argsAfterDashDash } from '../passthrough-args.js';
import { connectSettings, withRemoteOptions, type RemoteOptions } from '../remote-options.js';

/** Opens the host, runs argv attached to this terminal, and exits with the remote exit code. */
async function runAttached(host: HostSpec, args: RemoteOptions & GlobalOptions, argv: string[], o: AttachOptions): Promise<void> {
  const conn = await openHost(host, connectSettings(args));
  try {
    process.exitCode = await attach(conn, argv, o);
  } finally {
    await conn.close();
  }
}

interface LogsArgs extends GlobalOptions, RemoteOptions {
  name: string;
  follow: boolean;
  tail?: string;
  since?: string;
  timestamps: boolean;
}

export const logsCommand: CommandModule<GlobalOptions, LogsArgs> = {
  command: 'logs <name>',
  describe: "Show a container's logs (name, or host/name when several hosts have it)",
  builder: (y: Argv<GlobalOptions>) =>
    withRemoteOptions(y)
      .positional('name', { type: 'string', demandOption: true, describe: 'Container: name or host/name' })
      .option('follow', { alias: 'f', type: 'boolean', default: false, describe: 'Keep printing new lines until Ctrl-C' })
      .option('tail', { alias: 'n', type: 'string', describe: 'Only the last N lines (or "all")' })
      .option('since', { type: 'string', describe: 'Only lines since a time (2024-05-01T10:00:00) or a duration ago (42m, 2h)' })
      .option('timestamps', { alias: 't', type: 'boolean', default: false, describe: 'Prefix each line with its time' })
      .example('$0 logs relink-nginx --tail 50', 'The last 50 lines')
      .example('$0 logs -f relink/node-exporter --since 10m', 'Follow, starting 10 minutes back, on one host of several') as Argv<LogsArgs>,
  handler: async (args) => {
    const tail = args.tail;
    if (tail !== undefined && tail !== 'all' && !/^\d+$/.test(tail)) throw new UserError(`--tail takes a number of lines or "all", not "${tail}"`);
    const fleet = await loadFleetOrFail(args);
    const { host, spec } = findContainer(fleet, args.name);
    const argv = logsArgv(engineTarget(host.settings), spec.name, {
      follow: args.follow,
      ...(tail !== undefined ? { tail: tail === 'all' ? 'all' : Number(tail) } : {}),
      ...(args.since !== undefined ? { since: args.since } : {}),
      timestamps: args.timestamps,
    });
    // -f runs until Ctrl-C: the watchdog makes Ctrl-C stop it on the host as well.
    await runAttached(host, args, args.follow ? untilStdinClosesArgv(argv) : argv, { tty: false, stdin: false, holdStdin: args.follow });
  },
};

interface ShellArgs extends GlobalOptions, RemoteOptions {
  name: string;
  network: boolean;
  tty?: boolean;
}

const TTY_OPTION = {
  type: 'boolean',
  describe: 'Force (--tty) or refuse (--no-tty) a terminal; default: one when stdin and stdout are terminals',
} as const;

export const shellCommand: CommandModule<GlobalOptions, ShellArgs> = {
  command: 'shell <name>',
  describe: 'A shell in a container (bash, else sh); --network: the host\'s shell in the container\'s network namespace',
  builder: (y: Argv<GlobalOptions>) =>
    withRemoteOptions(y)
      .positional('name', { type: 'string', demandOption: true, describe: 'Container: name or host/name' })
      .option('network', {
        type: 'boolean',
        default: false,
        describe: "Run the host's bash (else sh) inside the container's network namespace only (nsenter), with the host's tools",
      })
      .option('tty', TTY_OPTION)
      .example('$0 shell nerchat-synapse', 'Interactive shell inside the container')
      .example('$0 shell --network relink-nginx', "Debug the container's network with the host's ip, ss, curl")
      .example("echo 'ip -6 addr' | $0 shell --network relink-nginx", 'Non-interactive: commands from stdin') as Argv<ShellArgs>,
  handler: async (args) => {
    const fleet = await loadFleetOrFail(args);
    const { host, spec } = findContainer(fleet, args.name);
    const target = engineTarget(host.settings);
    const tty = wantTty(args.tty);
    const argv = args.network ? netShellArgv(target, spec.name) : containerShellArgv(target, spec.name, tty);
    await runAttached(host, args, argv, { tty, stdin: true });
  },
};

interface ExecArgs extends GlobalOptions, RemoteOptions {
  name: string;
  command: string[];
  tty?: boolean;
  '--'?: unknown[];
}

export const execCommand: CommandModule<GlobalOptions, ExecArgs> = {
  command: 'exec <name> [command..]',
  describe: 'Run a command in a container; its exit code becomes man8s\'s',
  builder: (y: Argv<GlobalOptions>) =>
    withRemoteOptions(y)
      .parserConfiguration({ 'populate--': true })
      .positional('name', { type: 'string', demandOption: true, describe: 'Container: name or host/name' })
      .positional('command', { type: 'string', array: true, default: [], describe: 'The command and its arguments (after --)' })
      .option('tty', TTY_OPTION)
      .example('$0 exec nerchat-pgsql -- psql -U synapse -c "select 1"', 'One command; options after -- belong to it')
      .example('$0 exec lothric/node-exporter -- cat /etc/os-release', 'On one host of several') as Argv<ExecArgs>,
  handler: async (args) => {
    const command = argsAfterDashDash(args, args.command);
    if (command.length === 0) throw new UserError(`say which command to run in ${args.name}: man8s exec ${args.name} -- COMMAND [ARGS…]`);
    const fleet = await loadFleetOrFail(args);
    const { host, spec } = findContainer(fleet, args.name);
    const tty = wantTty(args.tty);
    await runAttached(host, args, containerExecArgv(engineTarget(host.settings), spec.name, command, tty), { tty, stdin: true });
  },
};
