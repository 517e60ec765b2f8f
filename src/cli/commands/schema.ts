import type { Argv, CommandModule } from 'yargs';
import { SCHEMA_KINDS, schemaFor } from '../../fleet/schema.js';
import type { SchemaKind } from '../../fleet/schema.js';
import type { GlobalOptions } from '../global.js';

interface SchemaArgs extends GlobalOptions {
  kind: SchemaKind;
}

export const schemaCommand: CommandModule<GlobalOptions, SchemaArgs> = {
  command: 'schema <kind>',
  describe: 'Print the JSON Schema of container.yaml, host.yaml or man8s.yaml (for editors)',
  builder: (y: Argv<GlobalOptions>) =>
    y
      .positional('kind', { choices: SCHEMA_KINDS, describe: 'Which file: container, host or man8s', demandOption: true })
      .example('$0 schema container > .schemas/container.schema.json', 'Then start container.yaml with: # yaml-language-server: $schema=../../../../.schemas/container.schema.json')
      .example('$0 schema host', 'The schema of hosts/<host>/host.yaml') as Argv<SchemaArgs>,
  handler: (args) => {
    process.stdout.write(`${JSON.stringify(schemaFor(args.kind), null, 2)}\n`);
  },
};
