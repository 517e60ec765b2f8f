import type { Argv, CommandModule } from 'yargs';
import { loadFleetOrFail } from '../context.js';
import type { GlobalOptions } from '../global.js';
import { withRemoteOptions } from '../remote-options.js';
import { groupByHost } from '../../ops/find-container.js';
import { runDeploy, type DeployArgs } from './deploy.js';

interface PullArgs extends Omit<DeployArgs, 'hosts' | 'all' | 'only' | 'pull' | 'changed' | 'since'> {
  names: string[];
}

export const pullCommand: CommandModule<GlobalOptions, PullArgs> = {
  command: 'pull <names..>',
  describe: "Pull containers' images and re-create those whose image changed (a tag like latest that moved); recorded like a deploy",
  builder: (y: Argv<GlobalOptions>) =>
    withRemoteOptions(y)
      .positional('names', { type: 'string', array: true, demandOption: true, describe: 'Containers: name, or host/name when several hosts have it' })
      .option('yes', { alias: 'y', type: 'boolean', default: false, describe: 'Apply without asking (required when not on a terminal)' })
      .option('json', { type: 'boolean', default: false, describe: 'Print the plan and results as JSON' })
      .option('push', { type: 'boolean', default: false, describe: 'git push the write-back commit' })
      .option('prune', { type: 'boolean', default: false, hidden: true })
      .option('allow-dirty', { type: 'boolean', default: false, describe: 'Run even with uncommitted changes in the fleet' })
      .option('lock-wait', { type: 'number', default: 0, describe: 'Seconds to wait for a locked host' })
      .option('health-timeout', { type: 'number', default: 60, describe: 'Seconds a container has to come up' })
      .option('settle', { type: 'number', default: 3, describe: 'Seconds a container must stay up to count as started' })
      .example('$0 pull relink-nginx', 'mbctl run --pull relink-nginx, from anywhere: re-created only if the image changed')
      .example('$0 pull lothric/node-exporter --yes', 'A name several hosts have is written host/name') as Argv<PullArgs>,
  handler: async (args) => {
    const fleet = await loadFleetOrFail(args);
    const pick = groupByHost(fleet, args.names);
    await runDeploy({ ...args, hosts: [], all: false, only: [], pull: true, changed: false }, pick);
  },
};
