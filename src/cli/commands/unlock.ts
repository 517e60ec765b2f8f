import type { Argv, CommandModule } from 'yargs';
import { loadFleetOrFail } from '../context.js';
import type { GlobalOptions } from '../global.js';
import { withRemoteOptions, connectSettings, type RemoteOptions } from '../remote-options.js';
import { openHost, selectHosts } from '../../apply/hosts.js';
import { releaseLockCommand, parseLockResponse, describeHolder } from '../../remote/lock.js';
import { UserError } from '../../errors.js';

interface UnlockArgs extends GlobalOptions, RemoteOptions {
  host: string;
}

export const unlockCommand: CommandModule<GlobalOptions, UnlockArgs> = {
  command: 'unlock <host>',
  describe: "Remove a host's deploy lock left by a deploy that is gone (it names who held it)",
  builder: (y: Argv<GlobalOptions>) =>
    withRemoteOptions(y)
      .positional('host', { type: 'string', demandOption: true, describe: 'The locked host' })
      .example('$0 unlock relink', 'After a laptop died mid-deploy; a live holder is usually detected and taken over automatically') as Argv<UnlockArgs>,
  handler: async (args) => {
    const fleet = await loadFleetOrFail(args);
    const [host] = selectHosts(fleet, [args.host]);
    const conn = await openHost(host!, connectSettings(args));
    try {
      const r = await conn.run(releaseLockCommand(undefined, { force: true }).argv, { timeoutMs: 30_000 });
      const resp = parseLockResponse(r.stdout);
      if (resp.status === 'free') process.stdout.write(`${host!.name}: not locked\n`);
      else if (resp.status === 'released') process.stdout.write(`${host!.name}: lock removed (was held by ${resp.holder ? describeHolder(resp.holder) : 'an unknown holder'})\n`);
      else throw new UserError(`${host!.name}: could not remove the lock (${r.stdout.trim() || r.stderr.trim()})`);
    } finally {
      await conn.close();
    }
  },
};
