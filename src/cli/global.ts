import type { Argv } from 'yargs';

/** Options every command accepts. */
export interface GlobalOptions {
  fleet?: string;
  sandbox: boolean;
  verbose: boolean;
}

export function withGlobalOptions<T>(y: Argv<T>): Argv<T & GlobalOptions> {
  return y
    .option('fleet', {
      type: 'string',
      describe: 'Fleet root: the folder with one folder per host (default: man8s.yaml `fleet:` or ./hosts)',
      global: true,
    })
    .option('sandbox', {
      type: 'boolean',
      default: process.env.MAN8S_SANDBOX === '1',
      describe: 'Target the local sandbox hosts (.man8s/sandbox.json) instead of production (also MAN8S_SANDBOX=1)',
      global: true,
    })
    .option('verbose', {
      type: 'boolean',
      default: false,
      describe: 'Show remote commands and their output',
      global: true,
    }) as Argv<T & GlobalOptions>;
}
