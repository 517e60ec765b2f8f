import type { Argv, CommandModule } from 'yargs';
import { ExitCode } from '../../errors.js';
import { eachHost, openHost } from '../../apply/hosts.js';
import { engineTarget, restartArgv, startArgv, stopArgv, type EngineTarget } from '../../remote/engine.js';
import { groupByHost } from '../../ops/find-container.js';
import { withoutHostPrefix } from '../../ops/messages.js';
import { loadFleetOrFail } from '../context.js';
import type { GlobalOptions } from '../global.js';
import { connectSettings, withRemoteOptions, type RemoteOptions } from '../remote-options.js';

type Verb = 'start' | 'stop' | 'restart';

interface LifecycleArgs extends GlobalOptions, RemoteOptions {
  names: string[];
  time?: number;
}

const BUILDERS: Record<Verb, (t: EngineTarget, names: string[], timeout?: number) => string[]> = {
  start: (t, names) => startArgv(t, names),
  stop: (t, names, timeout) => stopArgv(t, names, timeout),
  restart: (t, names, timeout) => restartArgv(t, names, timeout),
};

const DONE: Record<Verb, string> = { start: 'started', stop: 'stopped', restart: 'restarted' };

/**
 * One engine call per host with all of that host's names, hosts in parallel. A host that fails (down,
 * unknown container on it) is reported and the others still act; the exit code then says so.
 */
function lifecycleCommand(verb: Verb, describe: string): CommandModule<GlobalOptions, LifecycleArgs> {
  return {
    command: `${verb} <names..>`,
    describe,
    builder: (y: Argv<GlobalOptions>) => {
      let b = withRemoteOptions(y).positional('names', { type: 'string', array: true, demandOption: true, describe: 'Containers: name or host/name' });
      if (verb !== 'start') b = b.option('time', { alias: 't', type: 'number', describe: 'Seconds to wait for a clean stop before killing' });
      return b
        .example(`$0 ${verb} relink-nginx`, `${verb[0]!.toUpperCase()}${verb.slice(1)} one container (found in git)`)
        .example(`$0 ${verb} relink/node-exporter lothric/node-exporter`, 'The same name on two hosts') as Argv<LifecycleArgs>;
    },
    handler: async (args) => {
      const fleet = await loadFleetOrFail(args);
      const groups = groupByHost(fleet, args.names);
      const settings = connectSettings(args);
      const byHost = new Map(groups.map((g) => [g.host.name, g.names]));
      const outcomes = await eachHost(
        groups.map((g) => g.host),
        args.parallel,
        async (host) => {
          const conn = await openHost(host, settings);
          try {
            const names = byHost.get(host.name)!;
            await conn.check(BUILDERS[verb](engineTarget(host.settings), names, args.time), `${verb} ${names.join(' ')}`, { timeoutMs: 300_000 });
            return names;
          } finally {
            await conn.close();
          }
        },
      );
      for (const o of outcomes) {
        if (o.ok) for (const n of o.value) process.stdout.write(`${o.host}/${n}: ${DONE[verb]}\n`);
        else process.stdout.write(`${o.host}: error: ${withoutHostPrefix(o.host, o.error)}\n`);
      }
      if (outcomes.some((o) => !o.ok)) process.exitCode = ExitCode.error;
    },
  };
}

export const startCommand = lifecycleCommand('start', 'Start stopped containers');
export const stopCommand = lifecycleCommand('stop', 'Stop containers (they stay created; start brings them back)');
export const restartCommand = lifecycleCommand('restart', 'Restart containers');
