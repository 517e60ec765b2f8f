import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { describeSchemaError } from './schema-messages.js';

/** Kinds of file man8s validates: container.yaml, host.yaml, and man8s.yaml (fleet settings). */
export type SchemaKind = 'container' | 'host' | 'man8s';
export const SCHEMA_KINDS: readonly SchemaKind[] = ['container', 'host', 'man8s'];

/** One schema violation: where (a config path, and whether it is the key or the value) and what. */
export interface SchemaIssue {
  path: (string | number)[];
  key: boolean;
  message: string;
}

type JsonSchema = Record<string, any>;

/** Host keys that only make sense per host, so man8s.yaml `defaults:` may not set them. */
export const HOST_ONLY_KEYS = ['yggaddr', 'ssh'] as const;

// The schema files sit at the package root, two levels above both src/fleet/ (tsx) and dist/fleet/ (built).
const schemaUrl = (name: string) => new URL(`../../schemas/${name}.schema.json`, import.meta.url);

const cache = new Map<SchemaKind, JsonSchema>();

/** The JSON Schema of a kind, as `man8s schema` prints it. */
export function schemaFor(kind: SchemaKind): JsonSchema {
  let schema = cache.get(kind);
  if (!schema) {
    schema = kind === 'man8s' ? man8sSchema(schemaFor('host')) : JSON.parse(readFileSync(schemaUrl(kind), 'utf8'));
    cache.set(kind, schema!);
  }
  return schema!;
}

/**
 * man8s.yaml is derived from the host schema rather than written out, so the `defaults:` it accepts can
 * never drift from what host.yaml accepts.
 */
function man8sSchema(host: JsonSchema): JsonSchema {
  const defaults: JsonSchema = structuredClone(host);
  delete defaults.$schema;
  delete defaults.title;
  delete defaults.required;
  for (const key of HOST_ONLY_KEYS) delete defaults.properties[key];
  defaults.description = `Settings merged under every host.yaml (a host's own value wins). Any host.yaml key except ${HOST_ONLY_KEYS.join(' and ')}.`;
  return {
    $schema: host.$schema,
    title: 'man8s.yaml',
    description: 'Fleet settings at the root of a man8s fleet repo (optional).',
    type: 'object',
    additionalProperties: false,
    properties: {
      fleet: {
        description: 'The fleet root: the folder with one folder per host, relative to the repo root. Default: hosts.',
        type: 'string',
        minLength: 1,
        default: 'hosts',
      },
      defaults,
    },
  };
}

let ajv: Ajv | undefined;
const validators = new Map<SchemaKind, ValidateFunction>();

function validatorFor(kind: SchemaKind): ValidateFunction {
  let validate = validators.get(kind);
  if (!validate) {
    if (!ajv) {
      // allErrors: the user gets every problem in one run. verbose: messages need the failing
      // (parent) schema, e.g. both bounds of a range. strictTuples off: a port is a 2- or 3-tuple.
      // allowUnionTypes: environment values may be text, numbers or booleans.
      ajv = new Ajv({ allErrors: true, verbose: true, strictTuples: false, allowUnionTypes: true });
      // Annotation keywords editors (VS Code, yaml-language-server) understand; we use them for messages.
      ajv.addKeyword({ keyword: 'errorMessage', schemaType: 'string' });
      ajv.addKeyword({ keyword: 'patternErrorMessage', schemaType: 'string' });
    }
    validate = ajv.compile(schemaFor(kind));
    validators.set(kind, validate);
  }
  return validate;
}

/** Validates plain data (from YAML) against a kind's schema; returns every issue, in document order. */
export function schemaIssues(kind: SchemaKind, data: unknown): SchemaIssue[] {
  const validate = validatorFor(kind);
  if (validate(data)) return [];
  const issues: SchemaIssue[] = [];
  const seen = new Set<string>();
  for (const err of validate.errors ?? []) {
    const issue = describeSchemaError(err as ErrorObject, data);
    if (!issue) continue;
    // One shape problem can fail several keywords (minItems and errorMessage both); say it once.
    const id = `${JSON.stringify(issue.path)}|${issue.key}|${issue.message}`;
    if (seen.has(id)) continue;
    seen.add(id);
    issues.push(issue);
  }
  return issues;
}
