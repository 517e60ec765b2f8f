import type { CommandModule } from 'yargs';
import { deployCommand } from './deploy.js';
import { migrateCommand } from './migrate.js';
import { gcCommand } from './gc.js';
import { lsCommand } from './ls.js';
import { planCommand } from './plan.js';
import { renderCommand } from './render.js';
import { sandboxCommand } from './sandbox.js';
import { unlockCommand } from './unlock.js';
import { pullCommand } from './pull.js';
import { schemaCommand } from './schema.js';
import { validateCommand } from './validate.js';
import { statusCommand } from './status.js';
import { execCommand, logsCommand, shellCommand } from './container-session.js';
import { restartCommand, startCommand, stopCommand } from './lifecycle.js';
import { importCommand } from './import.js';
import { doctorCommand, setupCommand } from './doctor.js';
import { nerdctlCommand, sshCommand } from './host-access.js';
import { completionCommand } from './completion.js';

/** Day-2 operations (issue 6): live views, container sessions and lifecycle, host import and preparation. */
const day2Commands: CommandModule<any, any>[] = [
  statusCommand,
  logsCommand,
  shellCommand,
  execCommand,
  startCommand,
  stopCommand,
  restartCommand,
  importCommand,
  doctorCommand,
  setupCommand,
  nerdctlCommand,
  sshCommand,
  completionCommand,
];

/**
 * Every man8s command, one module each under src/cli/commands/. A module parses and prints only; the work
 * is done by the library modules it calls. Add a command by adding its module here.
 */
export const commands: CommandModule<any, any>[] = [validateCommand, schemaCommand, renderCommand, lsCommand, planCommand, deployCommand, pullCommand, migrateCommand, gcCommand, unlockCommand, sandboxCommand, ...day2Commands];
