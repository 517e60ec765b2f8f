import { isAlias, isMap, isPair, isScalar, isSeq, LineCounter, parseDocument } from 'yaml';
import type { Document, Node as YamlNode } from 'yaml';
import type { Diagnostic, Locator, Position } from './model.js';

/** A YAML file parsed for validation: its plain data, a locator into it, and its syntax problems. */
export interface ParsedYaml {
  /** The document as plain JS (null for an empty file). Unreliable when `ok` is false. */
  data: unknown;
  at: Locator;
  /** Syntax errors, duplicate keys and YAML warnings, each with the file's line:col. */
  diagnostics: Diagnostic[];
  /** False when the file has YAML errors: its data must not be used. */
  ok: boolean;
}

const START: Position = { line: 1, col: 1 };

/**
 * Parses one YAML file. `file` is the path printed in messages. Never throws on bad input: every problem
 * becomes a diagnostic, so one broken file does not hide the problems of the others.
 */
export function parseYaml(text: string, file: string): ParsedYaml {
  const lineCounter = new LineCounter();
  // prettyErrors off: we print our own `file:line:col: message`, not yaml's multi-line excerpt.
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const pos = (offset: number): Position => {
    const { line, col } = lineCounter.linePos(offset);
    return { line, col };
  };
  const diagnostics: Diagnostic[] = [];
  for (const err of doc.errors) {
    const { line, col } = pos(err.pos[0]);
    diagnostics.push({ file, line, col, message: yamlMessage(err.code, err.message, text, err.pos[0]) });
  }
  for (const warn of doc.warnings) {
    const { line, col } = pos(warn.pos[0]);
    diagnostics.push({ file, line, col, message: `YAML: ${warn.message}` });
  }
  const ok = doc.errors.length === 0;
  let data: unknown = null;
  if (ok) {
    try {
      data = doc.toJS({ maxAliasCount: 1000 });
    } catch (err) {
      // toJS throws on alias bombs and similar; report it like a syntax error.
      diagnostics.push({ file, ...START, message: `YAML: ${(err as Error).message}` });
      return { data: null, at: () => START, diagnostics, ok: false };
    }
  }
  return { data, at: locatorFor(doc, pos), diagnostics, ok };
}

function yamlMessage(code: string, message: string, text: string, offset: number): string {
  if (code === 'DUPLICATE_KEY') {
    const key = /^[^\s:#,\]}]+|^"[^"]*"|^'[^']*'/.exec(text.slice(offset))?.[0];
    return key ? `duplicate key ${key.startsWith('"') || key.startsWith("'") ? key : `"${key}"`}` : 'duplicate key';
  }
  return `YAML syntax: ${message.replace(/\s+/g, ' ').trim()}`;
}

function locatorFor(doc: Document, pos: (offset: number) => Position): Locator {
  const startOf = (node: YamlNode | null | undefined): Position | undefined =>
    node?.range ? pos(node.range[0]) : undefined;
  const deref = (node: unknown): unknown => (isAlias(node) ? node.resolve(doc) : node);

  return (path, key = false) => {
    let node = deref(doc.contents);
    // Nearest existing ancestor: starts at the document, moves down while the path exists.
    let found: Position = startOf(node as YamlNode) ?? START;
    for (let i = 0; i < path.length; i++) {
      const segment = path[i];
      const last = i === path.length - 1;
      if (isMap(node)) {
        const pair = node.items.find(
          (p) => isPair(p) && String(isScalar(p.key) ? p.key.value : p.key) === String(segment),
        );
        if (!pair) return found;
        const keyPos = startOf(pair.key as YamlNode);
        if (last && key) return keyPos ?? found;
        const value = deref(pair.value);
        // `key:` with no value is an empty scalar just past the colon: the key is the better place to point at.
        const empty = isScalar(value) && value.value === null && value.range && value.range[0] === value.range[1];
        const valuePos = (empty ? undefined : startOf(value as YamlNode)) ?? keyPos;
        if (!valuePos) return found;
        found = valuePos;
        node = value;
      } else if (isSeq(node) && typeof segment === 'number') {
        const item = deref(node.items[segment]);
        const itemPos = startOf(item as YamlNode);
        if (!itemPos) return found;
        found = itemPos;
        node = item;
      } else {
        return found;
      }
    }
    return found;
  };
}

/** A locator that parses `text` only when first asked (for data that came from the parse cache). */
export function lazyLocator(text: string): Locator {
  let at: Locator | undefined;
  return (path, key) => (at ??= parseYaml(text, '').at)(path, key);
}
