import type { Argv, CommandModule } from 'yargs';
import { formatDiagnostic } from '../../fleet/model.js';
import { ExitCode } from '../../errors.js';
import { loadCheckedFleet } from '../context.js';
import type { GlobalOptions } from '../global.js';

interface ValidateArgs extends GlobalOptions {
  json: boolean;
}

export const validateCommand: CommandModule<GlobalOptions, ValidateArgs> = {
  command: 'validate',
  describe: 'Check the whole fleet repo offline and list every problem as file:line:col: message',
  builder: (y: Argv<GlobalOptions>) =>
    y
      .option('json', { type: 'boolean', default: false, describe: 'Print the problems as a JSON array of {file, line, col, message}' })
      .example('$0 validate', 'Check ./hosts (or the fleet named in man8s.yaml)')
      .example('$0 validate --fleet ../infra/hosts --json', 'Check another fleet, output for scripts')
      .epilogue('Exit status: 0 when the fleet is valid, 1 when there is any problem.') as Argv<ValidateArgs>,
  handler: async (args) => {
    const { fleet, diagnostics } = await loadCheckedFleet(args);
    if (args.json) {
      process.stdout.write(`${JSON.stringify(diagnostics, null, 2)}\n`);
    } else if (diagnostics.length > 0) {
      process.stdout.write(diagnostics.map((d) => `${formatDiagnostic(d)}\n`).join(''));
      const files = new Set(diagnostics.map((d) => d.file)).size;
      process.stderr.write(
        `man8s: ${plural(diagnostics.length, 'problem')} in ${plural(files, 'file')}\n`,
      );
    } else {
      let containers = 0;
      for (const host of fleet.hosts.values()) containers += host.containers.size;
      process.stdout.write(`fleet ok: ${plural(fleet.hosts.size, 'host')}, ${plural(containers, 'container')}\n`);
    }
    if (diagnostics.length > 0) process.exitCode = ExitCode.error;
  },
};

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}
