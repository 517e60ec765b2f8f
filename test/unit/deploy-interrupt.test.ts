/**
 * Interruptions of a deploy: Ctrl-C and SIGTERM over the whole run (watchInterruptions), and the
 * confirmation prompt, where a terminal delivers Ctrl-C as a key to readline instead of a signal.
 * The end-to-end behaviour (locks released, exit 130, one line) is in test/e2e/deploy.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { PassThrough } from 'node:stream';
import { sleep, unlessInterrupted, watchInterruptions } from '../../src/apply/interrupt.js';
import { confirm } from '../../src/cli/confirm.js';

test('the first SIGINT or SIGTERM aborts the run, saying the phase message; the second quits', () => {
  const proc = new EventEmitter();
  const said: string[] = [];
  let quit = 0;
  const it = watchInterruptions({ proc, write: (t) => said.push(t), onSecond: () => quit++ });
  assert.equal(proc.listenerCount('SIGINT'), 1);
  assert.equal(proc.listenerCount('SIGTERM'), 1);
  proc.emit('SIGTERM');
  assert.equal(it.signal.aborted, true);
  assert.equal(it.signal.reason, 'SIGTERM');
  assert.deepEqual(said, [], 'phase 1 says nothing until it ends with its one line');
  assert.equal(quit, 0);
  proc.emit('SIGINT');
  assert.equal(quit, 1);
  it.dispose();
  assert.equal(proc.listenerCount('SIGINT'), 0);
  assert.equal(proc.listenerCount('SIGTERM'), 0);

  const two = watchInterruptions({ proc, write: (t) => said.push(t), onSecond: () => quit++ });
  two.firstMessage = 'interrupted: finishing the current step';
  two.interrupt(); // Ctrl-C read by the prompt
  assert.equal(two.signal.reason, 'SIGINT');
  assert.deepEqual(said, ['\nman8s: interrupted: finishing the current step\n']);
  two.dispose();
});

test('sleep ends early when the run is interrupted', async () => {
  const ac = new AbortController();
  const started = Date.now();
  setTimeout(() => ac.abort(), 20);
  await sleep(5000, ac.signal);
  assert.ok(Date.now() - started < 1000);
  await sleep(1, ac.signal);
});

test('connecting is abandoned at once when interrupted; a connection that comes late is closed', async () => {
  const ac = new AbortController();
  let finishConnect: (v: string) => void = () => undefined;
  const connecting = new Promise<string>((r) => (finishConnect = r));
  const closed: string[] = [];
  const p = unlessInterrupted(connecting, ac.signal, () => new Error('relink: interrupted'), (late) => closed.push(late));
  ac.abort('SIGINT');
  await assert.rejects(p, /^Error: relink: interrupted$/);
  finishConnect('conn');
  await new Promise((r) => setTimeout(r, 5));
  assert.deepEqual(closed, ['conn']);
  assert.equal(await unlessInterrupted(Promise.resolve(7), new AbortController().signal, () => new Error('x'), () => undefined), 7);
  await assert.rejects(unlessInterrupted(Promise.reject(new Error('no route')), new AbortController().signal, () => new Error('x'), () => undefined), /no route/);
  await assert.rejects(unlessInterrupted(Promise.resolve(1), ac.signal, () => new Error('already'), () => undefined), /already/);
});

/** The prompt on a fake terminal: readline in raw mode, keys written to its input. */
async function ask(keys: string | null, signal?: AbortSignal) {
  const input = new PassThrough();
  const output = new PassThrough();
  let shown = '';
  output.on('data', (c: Buffer) => (shown += c.toString('utf8')));
  const answer = confirm('Deploy to relink? [y/N] ', { input, output, terminal: true, ...(signal ? { signal } : {}) });
  setTimeout(() => (keys === null ? input.end() : input.write(keys)), 10);
  return { answer: await answer, shown };
}

test('the prompt: y/yes deploys, anything else or end of input does not, Ctrl-C and a signal interrupt', async () => {
  assert.equal((await ask('y\r')).answer, 'yes');
  assert.equal((await ask('YES\r')).answer, 'yes');
  assert.equal((await ask('\r')).answer, 'no');
  assert.equal((await ask('nope\r')).answer, 'no');
  assert.equal((await ask(null)).answer, 'no');
  const ctrlC = await ask('\x03');
  assert.equal(ctrlC.answer, 'interrupted');
  assert.match(ctrlC.shown, /Deploy to relink\? \[y\/N\] /);
  const ac = new AbortController();
  setTimeout(() => ac.abort('SIGTERM'), 5);
  assert.equal((await ask('', ac.signal)).answer, 'interrupted');
  const already = new AbortController();
  already.abort();
  assert.equal(await confirm('?', { signal: already.signal, input: new PassThrough(), output: new PassThrough() }), 'interrupted');
});
