/**
 * `man8s start|stop|restart`: one engine call per container (in parallel over the host's one connection),
 * so every name gets its own outcome: a container that does not exist on its host fails alone, and the
 * others are still reported as done. Pure reporting here; the CLI module runs the calls.
 */
import type { HostOutcome } from '../apply/hosts.js';
import { withoutHostPrefix } from './messages.js';

export type Verb = 'start' | 'stop' | 'restart';

export interface NameOutcome {
  name: string;
  ok: boolean;
  /** The engine's complaint, when it failed. */
  error?: string;
}

const DONE: Record<Verb, string> = { start: 'started', stop: 'stopped', restart: 'restarted' };

export interface LifecycleReport {
  /** `host/name: stopped`, one per container that did it. */
  done: string[];
  /** `host/name: not stopped: why`, one per container that did not (its host unreachable included). */
  failed: string[];
}

/** Pure: every name's outcome, in the order hosts and names were given. */
export function lifecycleReport(verb: Verb, groups: Array<{ host: string; names: string[] }>, outcomes: HostOutcome<NameOutcome[]>[]): LifecycleReport {
  const byHost = new Map(outcomes.map((o) => [o.host, o]));
  const report: LifecycleReport = { done: [], failed: [] };
  for (const g of groups) {
    const o = byHost.get(g.host);
    for (const name of g.names) {
      const ref = `${g.host}/${name}`;
      const r = o?.ok ? o.value.find((n) => n.name === name) : undefined;
      if (r?.ok) report.done.push(`${ref}: ${DONE[verb]}`);
      else {
        const why = r?.error ?? (o && !o.ok ? withoutHostPrefix(g.host, o.error) : 'no outcome');
        report.failed.push(`${ref}: not ${DONE[verb]}: ${why}`);
      }
    }
  }
  return report;
}
