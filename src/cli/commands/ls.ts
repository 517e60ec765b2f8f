import type { Argv, CommandModule } from 'yargs';
import { ExitCode } from '../../errors.js';
import type { Fleet } from '../../fleet/model.js';
import { fleetListing, type ListingRow } from '../../man8s/listing.js';
import { eachHost, openHost, selectHosts } from '../../apply/hosts.js';
import { observeAndPlan } from '../../plan/run.js';
import { recordDir } from '../../apply/record.js';
import type { ConnectionStats } from '../../remote/transport.js';
import { LIVE_HEADERS, liveRows, liveTableRows, type LiveRow } from '../../ops/live-listing.js';
import { withoutHostPrefix } from '../../ops/messages.js';
import { loadFleetOrFail } from '../context.js';
import type { GlobalOptions } from '../global.js';
import { connectSettings, formatStats, withRemoteOptions, type RemoteOptions } from '../remote-options.js';
import { formatTable } from '../table.js';

interface LsArgs extends GlobalOptions, RemoteOptions {
  hosts: string[];
  offline: boolean;
  json: boolean;
}

/** The view from git alone. */
function offlineListing(fleet: Fleet, hosts: string[]): ListingRow[] {
  return fleetListing(fleet, hosts);
}

/**
 * The live view: every host observed (one round trip each, in parallel) and planned, so Status comes from
 * the engine and Sync from the same rules as `man8s plan`. A host that cannot be reached is reported on
 * its own line; the others are still listed, and the exit code says something was missing.
 */
async function liveListing(args: LsArgs): Promise<void> {
  const fleet = await loadFleetOrFail(args);
  const hosts = selectHosts(fleet, args.hosts);
  const settings = connectSettings(args);
  const stats: ConnectionStats[] = [];
  const outcomes = await eachHost(hosts, args.parallel, async (host): Promise<LiveRow[]> => {
    const conn = await openHost(host, settings);
    try {
      const state = await observeAndPlan(fleet, host, conn, { recordDir: recordDir(fleet, host, args.sandbox) });
      return liveRows(state.plan, state.observed);
    } finally {
      await conn.close();
      stats.push(conn.stats());
    }
  });
  const rows = outcomes.flatMap((o) => (o.ok ? o.value : []));
  const failed = outcomes.flatMap((o) => (o.ok ? [] : [{ host: o.host, error: o.error }]));
  if (args.json) {
    process.stdout.write(`${JSON.stringify([...rows, ...failed], null, 2)}\n`);
  } else {
    process.stdout.write(formatTable(LIVE_HEADERS, liveTableRows(rows)));
    for (const f of failed) process.stdout.write(`${f.host}: unreachable: ${withoutHostPrefix(f.host, f.error)}\n`);
  }
  if (args.stats) process.stderr.write(formatStats(stats.sort((a, b) => a.host.localeCompare(b.host))));
  if (failed.length > 0) process.exitCode = ExitCode.error;
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
  describe: 'List the containers of the fleet live: status on each host and whether it matches git',
  builder: (y: Argv<GlobalOptions>) =>
    withRemoteOptions(y)
      .positional('hosts', { type: 'string', array: true, default: [], describe: 'Hosts to list (default: all)' })
      .option('offline', { type: 'boolean', default: false, describe: 'From git alone, without contacting any host' })
      .option('json', {
        type: 'boolean',
        default: false,
        describe:
          'Print a JSON array: live rows {host, name, image, status, state, autostart, yggaddr, sync, reasons} and {host, error} per unreachable host; ' +
          'with --offline {host, name, image, autostart, yggaddr, require, engine}',
      })
      .example('$0 ls', 'Every container of the fleet: Status (Up, Exited, Never, Orphan) and Sync with git')
      .example('$0 ls --sandbox', 'The same for the sandbox hosts (records from .man8s/sandbox/deployed/)')
      .example('$0 ls relink --json', 'One host, for scripts')
      .example('$0 ls --offline', 'Every configured container of the fleet, from git')
      .example('$0 ls --offline relink lothric --json', 'Two hosts, for scripts') as Argv<LsArgs>,
  handler: async (args) => {
    if (!args.offline) return liveListing(args);
    const fleet = await loadFleetOrFail(args);
    printListing(offlineListing(fleet, args.hosts), args.json);
  },
};
