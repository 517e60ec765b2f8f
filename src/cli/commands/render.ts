import type { Argv, CommandModule } from 'yargs';
import type { Engine } from '../../fleet/model.js';
import { getContainer, getHost } from '../../man8s/lookup.js';
import { composeYaml, composeYamlStream, desiredHost, renderCompose } from '../../man8s/render.js';
import { loadFleetOrFail } from '../context.js';
import type { GlobalOptions } from '../global.js';

interface RenderArgs extends GlobalOptions {
  host: string;
  name?: string;
  engine?: Engine;
}

export const renderCommand: CommandModule<GlobalOptions, RenderArgs> = {
  command: 'render <host> [name]',
  describe: 'Print the compose YAML a host (or one container) would run, exactly as deploy would use it',
  builder: (y: Argv<GlobalOptions>) =>
    y
      .positional('host', { type: 'string', demandOption: true, describe: 'Host folder name under the fleet root' })
      .positional('name', { type: 'string', describe: 'One container; all of the host (multi-document YAML) when omitted' })
      .option('engine', {
        choices: ['nerdctl', 'docker'] as const,
        describe: 'Render for this engine instead of the host.yaml `engine`',
      })
      .example('$0 render relink relink-nginx', 'The compose file of one container')
      .example('$0 render relink --engine docker', 'Every container of relink, rendered for Docker, in dependency order') as Argv<RenderArgs>,
  handler: async (args) => {
    const fleet = await loadFleetOrFail(args);
    const opts = args.engine ? { engine: args.engine } : {};
    if (args.name) {
      getContainer(fleet, args.host, args.name);
      process.stdout.write(composeYaml(renderCompose(fleet, args.host, args.name, opts)));
      return;
    }
    getHost(fleet, args.host);
    const desired = desiredHost(fleet, args.host, opts);
    process.stdout.write(composeYamlStream(desired.containers.map((c) => c.compose)));
  },
};
