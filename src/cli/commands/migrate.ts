import type { Argv, CommandModule } from 'yargs';
import { loadFleetOrFail } from '../context.js';
import type { GlobalOptions } from '../global.js';
import { withRemoteOptions, connectSettings, type RemoteOptions } from '../remote-options.js';
import { recordDir } from '../../apply/record.js';
import { openRepo } from '../../git/repo.js';
import { abort, migrate, resume, type MigrateContext, type MigrateIO, type MigrateSummary } from '../../migrate/migrate.js';
import { formatBytes } from '../../migrate/plan.js';
import { LEFTOVER_SUFFIX } from '../../migrate/leftovers.js';
import { setAsideNote } from '../../migrate/outcome.js';
import type { RsyncProgress } from '../../remote/rsync.js';
import { ExitCode, UserError } from '../../errors.js';
import { confirm } from '../confirm.js';

interface MigrateArgs extends GlobalOptions, RemoteOptions {
  name?: string;
  from?: string;
  to?: string;
  'with-deps': boolean;
  force: boolean;
  yes: boolean;
  'via-local': boolean;
  checksum: boolean;
  'purge-source': boolean;
  resume: boolean;
  abort: boolean;
  'lock-wait': number;
  'health-timeout': number;
  settle: number;
}

/** Progress lines: rewritten in place on a terminal, at most one every 5 s in logs. */
function makeIO(interactive: boolean): MigrateIO {
  const tty = process.stdout.isTTY && !process.env.CI;
  let open = false;
  let last = 0;
  const finished = new Set<string>();
  const end = () => {
    if (open) process.stdout.write('\n');
    open = false;
  };
  return {
    say(line) {
      end();
      process.stdout.write(`${line}\n`);
    },
    progress(label: string, p: RsyncProgress) {
      const text = `${label}: ${formatBytes(p.bytes)} ${String(p.percent).padStart(3)}% ${p.rate} eta ${p.eta}`;
      if (tty) {
        process.stdout.write(`\r${text.padEnd(78)}`);
        open = true;
      } else if ((p.percent === 100 && !finished.has(label)) || (p.percent < 100 && Date.now() - last > 5000)) {
        // rsync repeats its 100 % line once per file checked after the last transfer: print it once.
        if (p.percent === 100) finished.add(label);
        last = Date.now();
        process.stdout.write(`${text}\n`);
      }
    },
    progressDone: end,
    async confirm(question) {
      if (!interactive) throw new UserError('not on a terminal, so no one can confirm the migration: pass --yes');
      const answer = await confirm(`${question} [y/N] `);
      if (answer === 'interrupted') throw new UserError('interrupted: nothing changed', ExitCode.interrupted);
      return answer === 'yes';
    },
  };
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

function printSummary(s: MigrateSummary, started: number): void {
  const r = s.record;
  process.stdout.write(`migrated ${r.group.join(', ')}: ${r.from} → ${r.to} in ${seconds(Date.now() - started)}\n`);
  if (s.downtimeMs !== undefined) {
    const at = (t: number) => new Date(t).toISOString().slice(11, 23);
    process.stdout.write(`downtime: ${seconds(s.downtimeMs)} (stopped on ${r.from} at ${at(r.stoppedAt!)} → running on ${r.to} at ${at(r.runningAt!)})\n`);
  }
  if (s.commit) process.stdout.write(`commit ${s.commit.slice(0, 12)} migrate ${r.name}: ${r.from} → ${r.to}\n`);
  if (!r.purgeSource && r.leftovers.length > 0) {
    process.stdout.write(`${r.from} keeps the old data (*${LEFTOVER_SUFFIX}${r.leftoverStamp}) until: man8s gc ${r.from}\n`);
  }
  for (const w of s.warnings) process.stdout.write(`warning: ${w}\n`);
}

export const migrateCommand: CommandModule<GlobalOptions, MigrateArgs> = {
  command: 'migrate [name] [from] [to]',
  describe: 'Move a container with its config and all its data to another host (copy while running, short stop, switch, commit)',
  builder: (y: Argv<GlobalOptions>) =>
    withRemoteOptions(y)
      .positional('name', { type: 'string', describe: 'The container to move' })
      .positional('from', { type: 'string', describe: 'The host it runs on now' })
      .positional('to', { type: 'string', describe: 'The host to move it to' })
      .option('with-deps', { type: 'boolean', default: false, describe: 'Also move the containers tied to it by require (both directions)' })
      .option('force', { type: 'boolean', default: false, describe: 'Overwrite a container or data of that name already on the target' })
      .option('yes', { alias: 'y', type: 'boolean', default: false, describe: 'Migrate without asking (required when not on a terminal)' })
      .option('via-local', { type: 'boolean', default: false, describe: 'Copy through this machine (needs root here) when the hosts cannot reach each other' })
      .option('checksum', { type: 'boolean', default: false, describe: 'Verify the copy by content checksums, not only counts, sizes, owners and modes' })
      .option('purge-source', { type: 'boolean', default: false, describe: 'Delete the source data once the move is committed (default: keep it for man8s gc)' })
      .option('resume', { type: 'boolean', default: false, describe: 'Continue an interrupted migration from its record on the hosts' })
      .option('abort', { type: 'boolean', default: false, describe: 'Undo an interrupted migration: the container runs on the source again' })
      .option('lock-wait', { type: 'number', default: 0, describe: 'Seconds to wait for a host locked by another run' })
      .option('health-timeout', { type: 'number', default: 60, describe: 'Seconds the container has to come up on the target' })
      .option('settle', { type: 'number', default: 3, describe: 'Seconds it must stay up, unrestarted, to count as started' })
      .check((a) => {
        if (a.resume && a.abort) throw new Error('--resume or --abort, not both');
        if (!a.resume && !a.abort && !(a.name && a.from && a.to)) throw new Error('say what to move: man8s migrate <name> <from> <to>');
        return true;
      })
      .example('$0 migrate nerchat-synapse relink lothric', 'Move it with its data, ask first')
      .example('$0 migrate nerchat-synapse relink lothric --with-deps --yes', 'Move it together with nerchat-pgsql, which it requires')
      .example('$0 migrate --resume', 'Finish an interrupted migration') as Argv<MigrateArgs>,
  handler: async (args) => {
    const fleet = await loadFleetOrFail(args);
    const repo = await openRepo(fleet.repoRoot);
    const interactive = !!(process.stdin.isTTY && process.stdout.isTTY && !process.env.CI);
    const ac = new AbortController();
    const onInt = () => {
      if (ac.signal.aborted) process.exit(130);
      process.stderr.write('\nman8s: stopping at the next safe point (Ctrl-C again to quit at once; then use --resume or --abort)\n');
      ac.abort();
    };
    process.on('SIGINT', onInt);
    const ctx: MigrateContext = {
      fleet,
      reload: () => loadFleetOrFail(args),
      repo,
      connect: connectSettings(args),
      io: makeIO(interactive),
      signal: ac.signal,
      healthTimeoutSec: args['health-timeout'],
      settleSec: args.settle,
      lockWaitSec: args['lock-wait'],
      recordDir: (h) => recordDir(fleet, h, args.sandbox),
    };
    const which = { ...(args.name ? { name: args.name } : {}), ...(args.from ? { from: args.from } : {}), ...(args.to ? { to: args.to } : {}) };
    const started = Date.now();
    try {
      if (args.abort) {
        const { record: r, setAside, warnings } = await abort(ctx, which);
        process.stdout.write(`aborted: ${r.group.join(', ')} run${r.group.length > 1 ? '' : 's'} on ${r.from}; git unchanged\n`);
        if (setAside.length > 0) process.stdout.write(`${setAsideNote(r, setAside)}\n`);
        for (const w of warnings) process.stdout.write(`warning: ${w}\n`);
        if (warnings.length > 0) process.exitCode = 1;
        return;
      }
      const summary = args.resume
        ? await resume(ctx, which)
        : await migrate(ctx, {
            name: args.name!,
            from: args.from!,
            to: args.to!,
            withDeps: args['with-deps'],
            force: args.force,
            viaLocal: args['via-local'],
            checksum: args.checksum,
            purgeSource: args['purge-source'],
            yes: args.yes || !interactive ? args.yes : false,
          });
      if (summary) printSummary(summary, started);
      if (summary?.warnings.length) process.exitCode = 1;
    } finally {
      process.off('SIGINT', onInt);
    }
  },
};
