/**
 * The "Deploy to …? [y/N]" question. On a terminal readline holds the keyboard in raw mode, so Ctrl-C
 * reaches it as a key, not as SIGINT to the process: left alone, readline closes and the pending
 * question rejects with an AbortError. Here Ctrl-C, a signal (SIGTERM) and end of input are answers.
 */
import { createInterface } from 'node:readline/promises';
import type { Readable, Writable } from 'node:stream';

export type Answer = 'yes' | 'no' | 'interrupted';

export interface ConfirmOptions {
  input?: Readable;
  output?: Writable;
  /** Aborting it (SIGTERM, or a signal the caller watches) answers 'interrupted'. */
  signal?: AbortSignal;
  /** Default: readline's own guess (a TTY). */
  terminal?: boolean;
}

export async function confirm(question: string, o: ConfirmOptions = {}): Promise<Answer> {
  if (o.signal?.aborted) return 'interrupted';
  const output = o.output ?? process.stdout;
  const rl = createInterface({ input: o.input ?? process.stdin, output, ...(o.terminal !== undefined ? { terminal: o.terminal } : {}) });
  const stop = new AbortController();
  let interrupted = false;
  const onInterrupt = () => {
    interrupted = true;
    stop.abort();
  };
  rl.on('SIGINT', onInterrupt);
  // Input ended (Ctrl-D, a closed pipe): readline closes without settling the question.
  rl.on('close', () => stop.abort());
  o.signal?.addEventListener('abort', onInterrupt, { once: true });
  try {
    const answer = await rl.question(question, { signal: stop.signal });
    return /^y(es)?$/i.test(answer.trim()) ? 'yes' : 'no';
  } catch (err) {
    if (interrupted) {
      output.write('\n');
      return 'interrupted';
    }
    // Input ended before an answer: that is not a yes.
    if ((err as Error).name === 'AbortError') return 'no';
    throw err;
  } finally {
    o.signal?.removeEventListener('abort', onInterrupt);
    rl.close();
  }
}
