/**
 * Progress of a multi-host operation. On a terminal: a listr2 tree, host → step → container, laid out
 * in advance from each host's outline (the steps its apply will take) and ticked off as events arrive.
 * Elsewhere (pipes, CI, --json): plain `host: …` lines, one per event, so CI logs read top to bottom;
 * with --json nothing but the final JSON.
 */
import { Listr } from 'listr2';
import type { DeployEvent, OutlineStep, Reporter } from '../apply/apply-host.js';

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

/** What the tree needs of a listr2 task: its title and output line, and skipping. */
export interface TreeTask {
  title: string;
  output: string;
  skip(message?: string): void;
}

/** A step or container of the tree: settles once; remembers what to show until its task runs. */
interface Pending {
  done: Promise<void>;
  resolve: () => void;
  reject: (err: Error) => void;
  settled: boolean;
  task?: TreeTask;
  output?: string;
  skipped?: string;
}

function pending(): Pending {
  const p = { settled: false } as Pending;
  p.done = new Promise<void>((resolve, reject) => {
    p.resolve = () => {
      p.settled = true;
      resolve();
    };
    p.reject = (err) => {
      p.settled = true;
      reject(err);
    };
  });
  // listr2 awaits it only once the task runs, maybe after a failure: not an unhandled rejection.
  p.done.catch(() => undefined);
  return p;
}

/** The task listr2 runs for a step or container: shows what happened before it started, then waits. */
function attach(p: Pending, task: TreeTask): Promise<void> {
  p.task = task;
  if (p.skipped !== undefined) task.skip(p.skipped);
  else if (p.output !== undefined) task.output = p.output;
  return p.done;
}

function show(p: Pending, text: string): void {
  p.output = text;
  if (p.task) p.task.output = text;
}

/**
 * One host's tree as a state machine over its apply events (no listr2 in here, so it is unit-tested):
 * a step event starts its step and finishes the earlier ones (skipped when they never began); a
 * container ends done, failed (its task fails with the reason) or skipped; finish() ends the rest.
 */
export class HostTree {
  private readonly steps = new Map<string, Pending>();
  private readonly containers = new Map<string, Pending>();
  private current = -1;

  constructor(readonly outline: readonly OutlineStep[]) {
    for (const s of outline) {
      this.steps.set(s.key, pending());
      for (const c of s.containers) {
        this.containers.set(c.name, pending());
      }
    }
  }

  /** The step's task runs until the step is over; container steps run their containers instead. */
  runStep(key: string, task: TreeTask): Promise<void> {
    return attach(this.steps.get(key)!, task);
  }

  runContainer(name: string, task: TreeTask): Promise<void> {
    return attach(this.containers.get(name)!, task);
  }

  /** An event from the apply, in order. Details without a step go to the current step's output line. */
  on(e: DeployEvent): void {
    // Only steps advance the tree: a container can fail early (its mount) while an earlier step runs.
    if (e.kind === 'step' && e.step !== undefined) this.reach(e.step);
    const step = this.outline[this.current];
    const stepState = step && this.steps.get(step.key)!;
    const c = e.kind === 'container' ? this.containers.get(e.name) : undefined;
    if (e.kind === 'step' || !c || c.settled) {
      // a step's text, a rollback after the failure, or a container the outline does not list
      if (stepState && !stepState.settled) show(stepState, describeEvent(e));
      return;
    }
    if (e.status === 'done') c.resolve();
    else if (e.status === 'failed') c.reject(new Error(`${e.name}: ${e.text ?? 'failed'}`));
    else if (e.status === 'skipped') this.endSkipped(c, `${e.name}: skipped${e.text ? ` (${e.text})` : ''}`);
    else show(c, describeEvent(e));
  }

  /** The apply ended: steps it never reached are skipped, the last one is done. */
  finish(): void {
    this.reach(this.outline.length);
    for (const c of this.containers.values()) if (!c.settled) this.endSkipped(c, 'not applied');
  }

  /** Steps before `key` (an index past the end for all) are over. */
  private reach(key: string | number): void {
    const index = typeof key === 'number' ? key : this.outline.findIndex((s) => s.key === key);
    if (index < 0 || index <= this.current) return;
    for (let i = Math.max(this.current, 0); i < index; i++) {
      const s = this.outline[i]!;
      const p = this.steps.get(s.key)!;
      if (p.settled) continue;
      const containersSettled = s.containers.length > 0 && s.containers.every((c) => this.containers.get(c.name)!.settled);
      if (i === this.current || containersSettled) p.resolve();
      else this.endSkipped(p, `${s.title}: nothing to do`);
      for (const c of s.containers) {
        const cp = this.containers.get(c.name)!;
        if (!cp.settled) this.endSkipped(cp, 'not applied');
      }
    }
    this.current = Math.min(index, this.outline.length);
  }

  /** Ends a pending step or container as skipped, now or (task not attached yet) when it attaches. */
  private endSkipped(p: Pending, why: string): void {
    p.skipped = why;
    p.task?.skip(why);
    p.resolve();
  }
}

/**
 * Runs `work` for each host (at most `parallel` at once) with a Reporter wired to the chosen display.
 * `title` gives the host's final line from its result (e.g. "2 created, 1 failed"); `outline` the
 * steps of a host for the tree (none: the host's line follows the latest event).
 */
export async function withProgress<T>(
  mode: ProgressMode,
  hosts: readonly string[],
  parallel: number,
  work: (host: string, report: Reporter) => Promise<T>,
  title: (host: string, value: T) => string,
  outline: (host: string) => readonly OutlineStep[] = () => [],
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
  const failures: unknown[] = [];
  const list = new Listr(
    hosts.map((host) => ({
      title: host,
      task: (_ctx, task) => {
        const tree = new HostTree(outline(host));
        const done = work(host, (e) => {
          tree.on(e);
          if (tree.outline.length === 0) task.output = describeEvent(e);
        }).then(
          (value) => {
            results.set(host, value);
            task.title = `${host}: ${title(host, value)}`;
          },
          (err: unknown) => {
            failures.push(err);
          },
        );
        void done.finally(() => tree.finish());
        if (tree.outline.length === 0) return done;
        return task.newListr(
          tree.outline.map((step) => ({
            title: step.title,
            task: (_c, t) =>
              step.containers.length === 0
                ? tree.runStep(step.key, t)
                : (void tree.runStep(step.key, t),
                  t.newListr(
                    step.containers.map((c) => ({ title: c.title, task: (_cc, ct) => tree.runContainer(c.name, ct) })),
                    { concurrent: true, exitOnError: false },
                  )),
          })),
          { concurrent: false, exitOnError: false },
        );
      },
      rendererOptions: { persistentOutput: false, outputBar: 1 },
    })),
    // Ctrl-C is the command's to handle (finish the step, put files back, release locks): listr2's own
    // handler would exit on the spot.
    { concurrent: parallel, exitOnError: false, registerSignalListeners: false, rendererOptions: { collapseSubtasks: false } },
  );
  await list.run();
  if (failures.length > 0) throw failures[0];
  return results;
}
