/**
 * Ctrl-C and SIGTERM (a CI job cancelled, systemd stopping a runner) over a whole multi-host run. The
 * first one aborts `signal`: every step checks it at its next safe point, so locks are released and no
 * host is left half-applied. A second one quits at once (`onSecond`): locks left behind are then
 * stale for the next deploy, because the ssh session that took them is gone.
 */
export const INTERRUPT_SIGNALS = ['SIGINT', 'SIGTERM'] as const;

export interface Interruption {
  /** Aborted by the first signal; its reason is the signal's name. */
  readonly signal: AbortSignal;
  /** Said on stderr when the first signal arrives; set by each phase (empty: say nothing yet). */
  firstMessage: string;
  /** Aborts as a signal would (Ctrl-C read by the prompt, which holds the terminal in raw mode). */
  interrupt(reason?: string): void;
  /** Removes the handlers. */
  dispose(): void;
}

export interface WatchOptions {
  /** The process (tests pass an EventEmitter). */
  proc?: Pick<NodeJS.EventEmitter, 'on' | 'off'>;
  write?: (text: string) => void;
  /** What a second signal does; default: exit 130 now. */
  onSecond?: () => void;
}

export function watchInterruptions(o: WatchOptions = {}): Interruption {
  const proc = o.proc ?? process;
  const write = o.write ?? ((t: string) => process.stderr.write(t));
  const onSecond =
    o.onSecond ??
    (() => {
      write('\nman8s: interrupted again: quitting now; a lock left behind is taken over by the next deploy (its ssh session is gone)\n');
      process.exit(130);
    });
  const controller = new AbortController();
  const handle = (reason: string) => {
    if (controller.signal.aborted) return onSecond();
    controller.abort(reason);
    if (it.firstMessage) write(`\nman8s: ${it.firstMessage}\n`);
  };
  const handlers = INTERRUPT_SIGNALS.map((s) => [s, () => handle(s)] as const);
  for (const [s, h] of handlers) proc.on(s, h);
  const it: Interruption = {
    signal: controller.signal,
    firstMessage: '',
    interrupt: (reason = 'SIGINT') => handle(reason),
    dispose: () => {
      for (const [s, h] of handlers) proc.off(s, h);
    },
  };
  return it;
}

/** Rejects-free sleep that ends early when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * `work`, or `interrupted()` as soon as `signal` aborts, whichever comes first: for steps that hold
 * nothing yet (connecting can take a ConnectTimeout). What `work` yields after that goes to `late`.
 */
export function unlessInterrupted<T>(work: Promise<T>, signal: AbortSignal | undefined, interrupted: () => Error, late: (value: T) => unknown): Promise<T> {
  if (!signal) return work;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      reject(interrupted());
      work.then(late, () => undefined);
    };
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}
