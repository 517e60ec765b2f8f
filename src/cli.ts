#!/usr/bin/env node
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { commands } from './cli/commands/index.js';
import { fleetCompletion, YARGS_COMPLETION_COMMAND } from './cli/commands/completion.js';
import { withGlobalOptions } from './cli/global.js';
import { ExitCode, UserError } from './errors.js';

/** Prints an error as one line (no stack trace unless --verbose) and returns the exit code. */
function report(err: unknown, verbose: boolean): number {
  if (err instanceof UserError) {
    process.stderr.write(`man8s: ${err.message}\n`);
    return err.exitCode;
  }
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`man8s: internal error: ${message}\n`);
  if (verbose && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
  else process.stderr.write('man8s: run again with --verbose for details, and please report it\n');
  return ExitCode.error;
}

async function main(argv: string[]): Promise<void> {
  const verbose = argv.includes('--verbose');
  const cli = withGlobalOptions(yargs(argv))
    .scriptName('man8s')
    .usage('$0 <command> [options]\n\nGitOps for Man8S fleets: plan, deploy and migrate containers across hosts over SSH.')
    .command(commands)
    .demandCommand(1, 'Say which command to run (see --help).')
    .strict()
    .recommendCommands()
    // `man8s completion bash|zsh` prints the script (commands/completion.ts); this hooks the fleet's
    // host and container names into yargs's completion, which the script asks on every Tab.
    .completion(YARGS_COMPLETION_COMMAND, false, fleetCompletion)
    .example('$0 plan relink', 'What a deploy of relink would change, with diffs')
    .example('$0 ls', 'The whole fleet, live')
    .example('$0 <command> --help', 'Options and examples of one command')
    .help()
    .alias('h', 'help')
    .version()
    .wrap(Math.min(110, process.stdout.columns || 100))
    .fail((msg, err) => {
      // yargs calls this for usage errors (msg) and for errors thrown by handlers (err).
      if (err) throw err;
      process.stderr.write(`man8s: ${msg}\nman8s: see man8s --help\n`);
      process.exit(ExitCode.error);
    });
  try {
    await cli.parseAsync();
  } catch (err) {
    process.exitCode = report(err, verbose);
  }
}

process.on('SIGINT', () => {
  // Commands that hold remote state install their own handlers first; this is the last resort.
  if (process.listenerCount('SIGINT') === 1) process.exit(ExitCode.interrupted);
});

await main(hideBin(process.argv));
