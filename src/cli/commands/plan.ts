import type { Argv, CommandModule } from 'yargs';
import { loadFleetOrFail } from '../context.js';
import type { GlobalOptions } from '../global.js';
import { withRemoteOptions, connectSettings, formatStats, type RemoteOptions } from '../remote-options.js';
import { eachHost, openHost, selectHosts } from '../../apply/hosts.js';
import { observeAndPlan, gatherDiffs } from '../../plan/run.js';
import { formatHostPlan, type HostPlanView } from '../../plan/format.js';
import { hostHasChanges } from '../../plan/diff.js';
import { planJson } from '../../plan/json.js';
import { selectChangedHosts } from '../../apply/changed.js';
import { recordDir } from '../../apply/record.js';
import { ExitCode } from '../../errors.js';
import type { ConnectionStats } from '../../remote/transport.js';

interface PlanArgs extends GlobalOptions, RemoteOptions {
  hosts: string[];
  only: string[];
  prune: boolean;
  json: boolean;
  'detailed-exitcode': boolean;
  changed: boolean;
  since?: string;
}

export const planCommand: CommandModule<GlobalOptions, PlanArgs> = {
  command: 'plan [hosts..]',
  describe: 'Show how each host differs from git: what deploy would create, re-create, restart or start, with diffs',
  builder: (y: Argv<GlobalOptions>) =>
    withRemoteOptions(y)
      .positional('hosts', { type: 'string', array: true, default: [], describe: 'Hosts to plan (default: all)' })
      .option('only', { type: 'string', array: true, default: [], describe: 'Only these containers' })
      .option('prune', { type: 'boolean', default: false, describe: 'Plan the removal of orphans (containers and folders git no longer has)' })
      .option('json', { type: 'boolean', default: false, describe: 'Print the plan as JSON' })
      .option('detailed-exitcode', { type: 'boolean', default: false, describe: 'Exit 2 when there are changes, 0 when none, 1 on error' })
      .option('changed', { type: 'boolean', default: false, describe: 'Only hosts changed since their deployed.yaml commit (or --since)' })
      .option('since', { type: 'string', describe: 'With --changed: compare against this commit instead' })
      .example('$0 plan relink', 'What a deploy of relink would do, with diffs')
      .example('$0 plan --changed --detailed-exitcode', 'In CI: exit 2 if any changed host would change') as Argv<PlanArgs>,
  handler: async (args) => {
    const fleet = await loadFleetOrFail(args);
    let hosts = selectHosts(fleet, args.hosts);
    if (args.changed) hosts = await selectChangedHosts(fleet, hosts, args.since, args.sandbox);
    const settings = connectSettings(args);
    const stats: ConnectionStats[] = [];
    const outcomes = await eachHost(hosts, args.parallel, async (host): Promise<HostPlanView> => {
      const conn = await openHost(host, settings);
      try {
        const state = await observeAndPlan(fleet, host, conn, { only: args.only, recordDir: recordDir(fleet, host, args.sandbox) });
        const diffs = args.json || !hostHasChanges(state.plan, { prune: args.prune }) ? [] : await gatherDiffs(state, conn);
        return { plan: state.plan, destination: `${conn.resolved.user}@${conn.resolved.hostname}:${conn.resolved.port}`, diffs };
      } finally {
        await conn.close();
        stats.push(conn.stats());
      }
    });

    // Hosts that could not even be reached: what trying cost (their stats are not in `stats` yet).
    stats.push(...outcomes.flatMap((o) => (!o.ok && o.stats ? [o.stats] : [])));
    if (args.json) {
      process.stdout.write(`${JSON.stringify(outcomes.map((o) => (o.ok ? planJson(o.value) : { host: o.host, error: o.error })), null, 2)}\n`);
    } else {
      if (hosts.length === 0) process.stdout.write('no host to plan (none changed)\n');
      for (const o of outcomes) process.stdout.write(o.ok ? `${formatHostPlan(o.value, { prune: args.prune })}\n\n` : `${o.host}: error: ${o.error}\n\n`);
    }
    if (args.stats) process.stderr.write(formatStats(stats.sort((a, b) => a.host.localeCompare(b.host))));

    const failed = outcomes.some((o) => !o.ok || o.value.plan.errors.length > 0);
    const changes = outcomes.some((o) => o.ok && hostHasChanges(o.value.plan, { prune: args.prune }));
    process.exitCode = failed ? ExitCode.error : changes && args['detailed-exitcode'] ? ExitCode.changes : ExitCode.ok;
  },
};
