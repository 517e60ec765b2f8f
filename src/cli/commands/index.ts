import type { CommandModule } from 'yargs';
import { lsCommand } from './ls.js';
import { renderCommand } from './render.js';
import { sandboxCommand } from './sandbox.js';
import { schemaCommand } from './schema.js';
import { validateCommand } from './validate.js';

/**
 * Every man8s command, one module each under src/cli/commands/. A module parses and prints only; the work
 * is done by the library modules it calls. Add a command by adding its module here.
 */
export const commands: CommandModule<any, any>[] = [validateCommand, schemaCommand, renderCommand, lsCommand, sandboxCommand];
