/**
 * Progress of a multi-host operation. On a terminal: a listr2 tree, one task per host whose output line
 * follows the current step and container. Elsewhere (pipes, CI, --json): plain `host: …` lines, one per
 * event, so CI logs read top to bottom; with --json nothing but the final JSON.
 */
import { Listr } from 'listr2';
import type { DeployEvent, Reporter } from '../apply/apply-host.js';

export type ProgressMode = 'tree' | 'lines' | 'silent';

export function progressMode(opts: { json?: boolean }): ProgressMode {
  if (opts.json) return 'silent';
  return process.stdout.isTTY && !process.env.CI ? 'tree' : 'lines';
}

export function describeEvent(e: DeployEvent): string {
  if (e.kind === 'step') return e.text;
  const status = e.status === 'applying' ? `${e.text ?? 'applying'}…` : e.status === 'waiting' ? 'waiting until it stays up…' : e.status;
  return `${e.name}: ${status}${e.text && e.status !== 'applying' ? ` (${e.text})` : ''}`;
}

/**
 * Runs `work` for each host (at most `parallel` at once) with a Reporter wired to the chosen display.
 * `title` gives the host's final line from its result (e.g. "2 created, 1 failed").
 */
export async function withProgress<T>(
  mode: ProgressMode,
  hosts: readonly string[],
  parallel: number,
  work: (host: string, report: Reporter) => Promise<T>,
  title: (host: string, value: T) => string,
): Promise<Map<string, T>> {
  const results = new Map<string, T>();
  if (mode !== 'tree') {
    const report: Reporter = mode === 'lines' ? (e) => process.stdout.write(`${e.host}: ${describeEvent(e)}\n`) : () => undefined;
    const queue = [...hosts];
    const worker = async () => {
      for (let host = queue.shift(); host !== undefined; host = queue.shift()) {
        const value = await work(host, report);
        results.set(host, value);
        if (mode === 'lines') process.stdout.write(`${host}: ${title(host, value)}\n`);
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(parallel, hosts.length)) }, worker));
    return results;
  }
  const list = new Listr(
    hosts.map((host) => ({
      title: host,
      task: async (_ctx: unknown, task: { output: string; title: string }) => {
        const value = await work(host, (e) => {
          task.output = describeEvent(e);
        });
        results.set(host, value);
        task.title = `${host}: ${title(host, value)}`;
      },
      rendererOptions: { persistentOutput: false, outputBar: 1 },
    })),
    { concurrent: parallel, exitOnError: false, rendererOptions: { collapseSubtasks: false } },
  );
  await list.run();
  return results;
}
