import type { Argv, CommandModule } from 'yargs';
import { UserError } from '../../errors.js';
import type { Fleet } from '../../fleet/model.js';
import { fleetListing, type ListingRow } from '../../man8s/listing.js';
import { loadFleetOrFail } from '../context.js';
import type { GlobalOptions } from '../global.js';
import { formatTable } from '../table.js';

interface LsArgs extends GlobalOptions {
  hosts: string[];
  offline: boolean;
  json: boolean;
}

/** The view from git; the live view (status from each host) plugs in beside it as `liveListing`. */
function offlineListing(fleet: Fleet, hosts: string[]): ListingRow[] {
  return fleetListing(fleet, hosts);
}

function printListing(rows: ListingRow[], json: boolean): void {
  if (json) {
    process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
    return;
  }
  const table = rows.map((r) => [
    r.host,
    r.name,
    r.image,
    r.autostart ? 'Yes' : 'No',
    r.yggaddr ?? '-',
    r.require.length ? r.require.join(',') : '-',
  ]);
  process.stdout.write(formatTable(['Host', 'Container', 'Image', 'AutoStart', 'YggAddr', 'Requires'], table));
}

export const lsCommand: CommandModule<GlobalOptions, LsArgs> = {
  command: 'ls [hosts..]',
  describe: 'List the containers of the fleet (or of the given hosts)',
  builder: (y: Argv<GlobalOptions>) =>
    y
      .positional('hosts', { type: 'string', array: true, default: [], describe: 'Hosts to list (default: all)' })
      .option('offline', { type: 'boolean', default: false, describe: 'From git alone, without contacting any host' })
      .option('json', {
        type: 'boolean',
        default: false,
        describe: 'Print a JSON array of {host, name, image, autostart, yggaddr, require, engine}',
      })
      .example('$0 ls --offline', 'Every configured container of the fleet, from git')
      .example('$0 ls --offline relink lothric --json', 'Two hosts, for scripts') as Argv<LsArgs>,
  handler: async (args) => {
    if (!args.offline) {
      throw new UserError('live ls (status from each host over SSH) is not available yet; use man8s ls --offline for the view from git');
    }
    const fleet = await loadFleetOrFail(args);
    printListing(offlineListing(fleet, args.hosts), args.json);
  },
};
