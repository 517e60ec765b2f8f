import type { Argv, CommandModule } from 'yargs';
import { loadFleetOrFail } from '../context.js';
import type { GlobalOptions } from '../global.js';
import { withRemoteOptions, connectSettings, type RemoteOptions } from '../remote-options.js';
import { openHost, selectHosts } from '../../apply/hosts.js';
import { listLeftovers, removeLeftover } from '../../migrate/gc.js';
import { formatBytes } from '../../migrate/plan.js';
import { ExitCode, UserError } from '../../errors.js';
import { confirm } from '../confirm.js';

interface GcArgs extends GlobalOptions, RemoteOptions {
  host: string;
  yes: boolean;
  list: boolean;
}

export const gcCommand: CommandModule<GlobalOptions, GcArgs> = {
  command: 'gc <host>',
  describe: 'List and remove the data migrations set aside on a host (*.man8s-migrated-<time> on a source, *.man8s-aborted-<time> on the target of an abort)',
  builder: (y: Argv<GlobalOptions>) =>
    withRemoteOptions(y)
      .positional('host', { type: 'string', demandOption: true, describe: 'The host to clean' })
      .option('list', { type: 'boolean', default: false, describe: 'Only list, remove nothing' })
      .option('yes', { alias: 'y', type: 'boolean', default: false, describe: 'Remove without asking' })
      .example('$0 gc relink', 'Show what migrations left on relink, ask, remove it') as Argv<GcArgs>,
  handler: async (args) => {
    const fleet = await loadFleetOrFail(args);
    const [host] = selectHosts(fleet, [args.host]);
    const conn = await openHost(host!, connectSettings(args));
    try {
      const found = (await listLeftovers(conn, host!.settings.storage_path));
      if (found.length === 0) {
        process.stdout.write(`${host!.name}: no migration leftovers\n`);
        return;
      }
      for (const l of found) {
        const total = l.paths.reduce((n, p) => n + p.bytes, 0);
        const what =
          l.marker.kind === 'aborted'
            ? `target copy of an aborted migration, set aside at ${l.marker.at} when it went back to ${l.marker.to}; holds what it wrote here after the switch`
            : `moved to ${l.marker.to} at ${l.marker.at}`;
        process.stdout.write(`${host!.name}: ${l.marker.name} (${what}): ${formatBytes(total)}\n`);
        for (const p of l.paths) process.stdout.write(`  ${p.path}  ${formatBytes(p.bytes)}\n`);
      }
      if (args.list) return;
      if (!args.yes) {
        if (!process.stdin.isTTY || process.env.CI) throw new UserError('not on a terminal, so no one can confirm: pass --yes to remove the leftovers');
        const answer = await confirm('Remove them for good? [y/N] ');
        if (answer === 'interrupted') throw new UserError('interrupted: nothing removed', ExitCode.interrupted);
        if (answer === 'no') {
          process.stdout.write('nothing removed\n');
          return;
        }
      }
      for (const l of found) {
        await removeLeftover(conn, l);
        process.stdout.write(`${host!.name}: removed the leftovers of ${l.marker.name}\n`);
      }
    } finally {
      await conn.close();
    }
  },
};
