import type { CommandModule } from 'yargs';

/**
 * Every man8s command, one module each under src/cli/commands/. A module parses and prints only; the work
 * is done by the library modules it calls. Add a command by adding its module here.
 */
export const commands: CommandModule<any, any>[] = [];
