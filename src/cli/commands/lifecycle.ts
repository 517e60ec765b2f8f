import type { Argv, CommandModule } from 'yargs';
import { ExitCode } from '../../errors.js';
import { eachHost, openHost } from '../../apply/hosts.js';
import { engineTarget, restartArgv, startArgv, stopArgv, type EngineTarget } from '../../remote/engine.js';
import { groupByHost } from '../../ops/find-container.js';
import { lifecycleReport, type NameOutcome, type Verb } from '../../ops/lifecycle.js';
import { remoteError } from '../../ops/messages.js';
import { loadFleetOrFail } from '../context.js';
import type { GlobalOptions } from '../global.js';
import { connectSettings, withRemoteOptions, type RemoteOptions } from '../remote-options.js';

interface LifecycleArgs extends GlobalOptions, RemoteOptions {
  names: string[];
  time?: number;
}

const BUILDERS: Record<Verb, (t: EngineTarget, names: string[], timeout?: number) => string[]> = {
  start: (t, names) => startArgv(t, names),
  stop: (t, names, timeout) => stopArgv(t, names, timeout),
  restart: (t, names, timeout) => restartArgv(t, names, timeout),
};

/**
 * Hosts in parallel, one engine call per container, so each name is reported on its own: done on
 * stdout, failures on stderr; exit 1 when any failed. A host that cannot be reached fails its names only.
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
        async (host): Promise<NameOutcome[]> => {
          const conn = await openHost(host, settings);
          try {
            const target = engineTarget(host.settings);
            return await Promise.all(
              byHost.get(host.name)!.map(async (name): Promise<NameOutcome> => {
                const r = await conn.run(BUILDERS[verb](target, [name], args.time), { timeoutMs: 300_000 });
                return r.code === 0 ? { name, ok: true } : { name, ok: false, error: remoteError(r.stderr || r.stdout, r.code) };
              }),
            );
          } finally {
            await conn.close();
          }
        },
      );
      const report = lifecycleReport(verb, groups.map((g) => ({ host: g.host.name, names: g.names })), outcomes);
      for (const line of report.done) process.stdout.write(`${line}\n`);
      for (const line of report.failed) process.stderr.write(`man8s: ${line}\n`);
      if (report.failed.length > 0) process.exitCode = ExitCode.error;
    },
  };
}

export const startCommand = lifecycleCommand('start', 'Start stopped containers');
export const stopCommand = lifecycleCommand('stop', 'Stop containers (they stay created; start brings them back)');
export const restartCommand = lifecycleCommand('restart', 'Restart containers');
