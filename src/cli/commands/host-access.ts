import { spawn } from 'node:child_process';
import type { Argv, CommandModule } from 'yargs';
import { UserError } from '../../errors.js';
import { openHost, selectHosts } from '../../apply/hosts.js';
import { engineTarget } from '../../remote/engine.js';
import { attach, wantTty } from '../../ops/attach.js';
import { passthroughArgv } from '../../ops/container-commands.js';
import { sshCommandArgv } from '../../ops/ssh.js';
import { loadFleetOrFail } from '../context.js';
import type { GlobalOptions } from '../global.js';
import { argsAfterDashDash } from '../passthrough-args.js';
import { connectSettings, withRemoteOptions, type RemoteOptions } from '../remote-options.js';

interface NerdctlArgs extends GlobalOptions, RemoteOptions {
  host: string;
  args: string[];
  tty?: boolean;
  '--'?: unknown[];
}

export const nerdctlCommand: CommandModule<GlobalOptions, NerdctlArgs> = {
  command: 'nerdctl <host> [args..]',
  describe: "Run the host's container engine (nerdctl in the Man8S namespace, or docker), like mbctl's passthrough",
  builder: (y: Argv<GlobalOptions>) =>
    withRemoteOptions(y)
      .parserConfiguration({ 'populate--': true })
      .positional('host', { type: 'string', demandOption: true, describe: 'Fleet host' })
      .positional('args', { type: 'string', array: true, default: [], describe: 'Engine arguments (after --)' })
      .option('tty', { type: 'boolean', describe: 'Force (--tty) or refuse (--no-tty) a terminal; default: one when stdin and stdout are terminals' })
      .example('$0 nerdctl relink -- ps -a', '= mbctl ps -a on relink (nerdctl --namespace man8s.io --snapshotter btrfs ps -a)')
      .example('$0 nerdctl lothric -- images', 'Images on a docker-engine host (plain docker)') as Argv<NerdctlArgs>,
  handler: async (args) => {
    const engineArgs = argsAfterDashDash(args, args.args);
    if (engineArgs.length === 0) throw new UserError(`say what to run: man8s nerdctl ${args.host} -- ps -a`);
    const fleet = await loadFleetOrFail(args);
    const [host] = selectHosts(fleet, [args.host]);
    const conn = await openHost(host!, connectSettings(args));
    try {
      const tty = wantTty(args.tty);
      process.exitCode = await attach(conn, passthroughArgv(engineTarget(host!.settings), engineArgs), { tty, stdin: true });
    } finally {
      await conn.close();
    }
  },
};

interface SshArgs extends GlobalOptions {
  host: string;
  command: string[];
  '--'?: unknown[];
}

export const sshCommand: CommandModule<GlobalOptions, SshArgs> = {
  command: 'ssh <host> [command..]',
  describe: "Open ssh to a host (your own ssh client, with the fleet's ssh_config when set), or run one command there",
  builder: (y: Argv<GlobalOptions>) =>
    y
      .parserConfiguration({ 'populate--': true })
      .positional('host', { type: 'string', demandOption: true, describe: 'Fleet host' })
      .positional('command', { type: 'string', array: true, default: [], describe: 'A command to run instead of a login shell (after --)' })
      .example('$0 ssh relink', 'Log in to relink as host.yaml says')
      .example('$0 ssh relink -- journalctl -u yggdrasil -n 20', 'One command; its exit code becomes man8s\'s') as Argv<SshArgs>,
  handler: async (args) => {
    const fleet = await loadFleetOrFail(args);
    const [host] = selectHosts(fleet, [args.host]);
    const argv = sshCommandArgv(host!.settings, argsAfterDashDash(args, args.command));
    if (args.verbose) process.stderr.write(`${argv.join(' ')}\n`);
    process.exitCode = await new Promise<number>((resolve, reject) => {
      const child = spawn(argv[0]!, argv.slice(1), { stdio: 'inherit' });
      // ssh owns the terminal: Ctrl-C goes to it (same process group), not to us.
      const ignore = (): void => undefined;
      process.on('SIGINT', ignore);
      child.on('error', (err: NodeJS.ErrnoException) => {
        process.off('SIGINT', ignore);
        reject(err.code === 'ENOENT' ? new UserError('ssh is not installed on this machine; install the OpenSSH client') : err);
      });
      child.on('close', (code, signal) => {
        process.off('SIGINT', ignore);
        resolve(code ?? (signal ? 128 + 2 : 255));
      });
    });
  },
};
