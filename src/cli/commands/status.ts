import type { Argv, CommandModule } from 'yargs';
import { ExitCode, UserError } from '../../errors.js';
import { eachHost, openHost, selectHosts } from '../../apply/hosts.js';
import { readDeployed } from '../../git/deployed.js';
import { recordDir } from '../../apply/record.js';
import { headCommit, openRepo, type FleetRepo } from '../../git/repo.js';
import { observeHost, observeOptions } from '../../remote/observe.js';
import type { ConnectionStats } from '../../remote/transport.js';
import { deployedVsHead, formatHostStatus, reachableStatus, statusIsBad, type HostStatus, type ReachableStatus } from '../../ops/status.js';
import { withoutHostPrefix } from '../../ops/messages.js';
import { loadFleetOrFail } from '../context.js';
import type { GlobalOptions } from '../global.js';
import { connectSettings, formatStats, withRemoteOptions, type RemoteOptions } from '../remote-options.js';

interface StatusArgs extends GlobalOptions, RemoteOptions {
  hosts: string[];
  json: boolean;
}

async function openRepoOrNull(root: string): Promise<{ repo: FleetRepo | null; head: string | null }> {
  try {
    const repo = await openRepo(root);
    return { repo, head: await headCommit(repo) };
  } catch (err) {
    if (err instanceof UserError) return { repo: null, head: null };
    throw err;
  }
}

export const statusCommand: CommandModule<GlobalOptions, StatusArgs> = {
  command: 'status [hosts..]',
  describe: 'Per host: reachable, engine and compose versions, yggdrasil address vs host.yaml, deployed commit vs HEAD, lock, containers up',
  builder: (y: Argv<GlobalOptions>) =>
    withRemoteOptions(y)
      .positional('hosts', { type: 'string', array: true, default: [], describe: 'Hosts (default: all)' })
      .option('json', { type: 'boolean', default: false, describe: 'Print a JSON array, one object per host ({host, reachable: false, error} when unreachable)' })
      .example('$0 status', 'The whole fleet at a glance')
      .example('$0 status relink --json', 'One host, for scripts') as Argv<StatusArgs>,
  handler: async (args) => {
    const fleet = await loadFleetOrFail(args);
    const hosts = selectHosts(fleet, args.hosts);
    const { repo, head } = await openRepoOrNull(fleet.repoRoot);
    const settings = connectSettings(args);
    const stats: ConnectionStats[] = [];
    const outcomes = await eachHost(hosts, args.parallel, async (host): Promise<ReachableStatus> => {
      const conn = await openHost(host, settings);
      try {
        const [observed, deployed] = await Promise.all([
          observeHost(conn, observeOptions(host.settings)),
          readDeployed(recordDir(fleet, host, args.sandbox)),
        ]);
        const destination = `${conn.resolved.user}@${conn.resolved.hostname}:${conn.resolved.port}`;
        return reachableStatus(host, destination, observed, await deployedVsHead(repo, host, deployed, head));
      } finally {
        await conn.close();
        stats.push(conn.stats());
      }
    });
    const statuses: HostStatus[] = outcomes.map((o) =>
      o.ok ? o.value : { host: o.host, reachable: false, error: withoutHostPrefix(o.host, o.error) },
    );
    if (args.json) process.stdout.write(`${JSON.stringify(statuses, null, 2)}\n`);
    else process.stdout.write(statuses.map(formatHostStatus).join('\n'));
    if (args.stats) process.stderr.write(formatStats(stats.sort((a, b) => a.host.localeCompare(b.host))));
    if (statuses.some(statusIsBad)) process.exitCode = ExitCode.error;
  },
};
