import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { quoteArg, quoteArgv } from '../../src/remote/quote.js';

test('safe words stay bare, everything else is single-quoted', () => {
  assert.equal(quoteArg('/var/lib/man8s/conf'), '/var/lib/man8s/conf');
  assert.equal(quoteArg(''), "''");
  assert.equal(quoteArg('a b'), "'a b'");
  assert.equal(quoteArg("it's"), `'it'\\''s'`);
  assert.equal(quoteArg('FOO=1'), "'FOO=1'");
});

test('a real shell gets back exactly the argv it was given', () => {
  const nasty = ['printf', '%s\\n', '$(id)', '`id`', "a'b", 'x; rm -rf /', '*', '~root', '-n', 'new\nline', '', 'FOO=1'];
  const out = execFileSync('sh', ['-c', quoteArgv(nasty)], { encoding: 'utf8' });
  assert.equal(out, nasty.slice(2).map((a) => `${a}\n`).join(''));
});

test('an empty command is a programming error', () => {
  assert.throws(() => quoteArgv([]), /empty command/);
});
