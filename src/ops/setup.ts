/**
 * `man8s setup`: runs doctor's automatable fixes (ops/doctor.ts) and, when the host's yggdrasil address
 * differs from host.yaml, corrects host.yaml. Setup never leaves a host half-fixed: a fix whose later
 * step fails has its earlier steps undone, newest first.
 */
import { isScalar, parseDocument, Scalar } from 'yaml';
import { UserError } from '../errors.js';
import { quoteArgv } from '../remote/quote.js';
import type { Finding } from './doctor.js';
import { remoteError } from './messages.js';

export interface FixRun {
  check: string;
  /** What ran (a quoted remote command) or what was written. */
  command: string;
  ok: boolean;
  error?: string;
  /** This run put back an earlier step of a fix that failed. */
  undo?: boolean;
}

export type RunOnHost = (argv: string[]) => Promise<{ code: number; stdout: string; stderr: string }>;

/** Runs one finding's fix steps in order; when one fails, undoes the steps before it, newest first. */
export async function applyFix(run: RunOnHost, f: Finding): Promise<FixRun[]> {
  const runs: FixRun[] = [];
  const step = async (argv: string[], undo: boolean): Promise<boolean> => {
    const r = await run(argv);
    runs.push({ check: f.check, command: quoteArgv(argv), ok: r.code === 0, ...(undo ? { undo } : {}), ...(r.code !== 0 ? { error: remoteError(r.stderr || r.stdout, r.code) } : {}) });
    return r.code === 0;
  };
  const steps = f.fixArgv ?? [];
  for (let i = 0; i < steps.length; i++) {
    if (await step(steps[i]!, false)) continue;
    for (let j = i - 1; j >= 0; j--) {
      const undo = f.undoArgv?.[j];
      if (undo) await step(undo, true);
    }
    break;
  }
  return runs;
}

/**
 * Pure: host.yaml's text with the value of `yggaddr:` replaced in place (same quoting), so comments,
 * key order and formatting stay exactly as the operator wrote them.
 */
export function rewriteYggaddr(text: string, address: string, file: string): string {
  const doc = parseDocument(text);
  if (doc.errors.length > 0) throw new UserError(`${file}: not valid YAML (${doc.errors[0]!.message.split('\n')[0]}); fix it first`);
  const node = doc.get('yggaddr', true);
  const inline = [Scalar.PLAIN, Scalar.QUOTE_DOUBLE, Scalar.QUOTE_SINGLE] as const;
  if (!isScalar(node) || !node.range || !inline.includes(node.type as (typeof inline)[number])) {
    throw new UserError(`${file}: no one-line yggaddr: value to rewrite; write yggaddr: ${address} there yourself`);
  }
  const quote = node.type === Scalar.QUOTE_DOUBLE ? '"' : node.type === Scalar.QUOTE_SINGLE ? "'" : '';
  const [start, end] = node.range;
  return `${text.slice(0, start)}${quote}${address}${quote}${text.slice(end)}`;
}
