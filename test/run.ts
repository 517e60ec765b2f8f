/**
 * `npm test`: unit suites, then e2e suites against one sandbox brought up before them and down after.
 * Usage: node --import tsx test/run.ts [unit|e2e|all]   (npm test builds dist/ first)
 *
 * Node's own test runner does the work; this script only sequences it, keeps its summary lines, and
 * fails the run when a stage fails, finds no test files, or runs zero tests.
 * MAN8S_KEEP_SANDBOX=1 leaves the sandbox up afterwards (for reruns and debugging).
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { E2E_HOSTS } from './support/sandbox.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'dist', 'cli.js');
const stage = process.argv[2] ?? 'all';
let interrupted = false;
// Ctrl-C reaches the children too; stay alive long enough to take the sandbox down.
process.on('SIGINT', () => {
  interrupted = true;
});

function testFiles(dir: string): string[] {
  const abs = join(root, 'test', dir);
  if (!existsSync(abs)) return [];
  return readdirSync(abs)
    .filter((f) => f.endsWith('.test.ts'))
    .sort()
    .map((f) => join('test', dir, f));
}

/** Runs a command with output passed through (and kept, to read the test count); resolves its exit code. */
function runPassthrough(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number; output: string }> {
  return new Promise((res) => {
    const child = spawn(argv[0]!, argv.slice(1), { cwd: root, env, stdio: ['inherit', 'pipe', 'inherit'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => {
      process.stdout.write(d);
      output += d.toString('utf8');
    });
    child.on('close', (code, sig) => res({ code: code ?? (sig ? 130 : 1), output }));
    child.on('error', (e) => {
      process.stderr.write(`test/run: ${argv[0]}: ${e.message}\n`);
      res({ code: 127, output });
    });
  });
}

async function runSuites(kind: 'unit' | 'e2e', env?: NodeJS.ProcessEnv): Promise<boolean> {
  const files = testFiles(kind);
  if (files.length === 0) {
    process.stderr.write(`test/run: no test files in test/${kind}/ — a run that finds no test fails\n`);
    return false;
  }
  process.stdout.write(`\n# ${kind}: ${files.length} files\n`);
  const { code, output } = await runPassthrough(
    [process.execPath, '--import', 'tsx', '--test', '--test-concurrency=1', ...files],
    env,
  );
  const counts = [...output.matchAll(/^(?:#|ℹ) tests (\d+)$/gm)].map((m) => Number(m[1]));
  if (counts.length > 0 && counts.every((n) => n === 0)) {
    process.stderr.write(`test/run: test/${kind}/ ran no tests — failing\n`);
    return false;
  }
  return code === 0;
}

async function e2e(): Promise<boolean> {
  if (!existsSync(cli)) {
    process.stderr.write('test/run: dist/cli.js missing; run `npm run build` first (npm test does)\n');
    return false;
  }
  process.stdout.write(`\n# e2e: sandbox up --hosts ${E2E_HOSTS.join(',')}\n`);
  const up = await runPassthrough([process.execPath, cli, 'sandbox', 'up', '--hosts', E2E_HOSTS.join(',')]);
  let ok = false;
  try {
    if (up.code !== 0) {
      process.stderr.write('test/run: e2e FAILED: the sandbox cannot start (reason above); e2e tests need Linux and root\n');
      return false;
    }
    if (!interrupted) ok = await runSuites('e2e', { ...process.env, MAN8S_E2E_RUNNER: '1' });
  } finally {
    // A failed `up` has already removed what it started.
    if (up.code !== 0) {
      /* nothing to take down */
    } else if (process.env.MAN8S_KEEP_SANDBOX === '1') process.stdout.write('# e2e: MAN8S_KEEP_SANDBOX=1, sandbox left up\n');
    else {
      const down = await runPassthrough([process.execPath, cli, 'sandbox', 'down']);
      if (down.code !== 0) ok = false;
    }
  }
  return ok;
}

const results: Array<[string, boolean]> = [];
if (stage === 'unit' || stage === 'all') results.push(['unit', await runSuites('unit')]);
if ((stage === 'e2e' || stage === 'all') && !interrupted) results.push(['e2e', await e2e()]);
if (results.length === 0) {
  process.stderr.write(`test/run: unknown stage ${stage}; use unit, e2e or all\n`);
  process.exit(2);
}
process.stdout.write(`\n# test/run: ${results.map(([k, ok]) => `${k} ${ok ? 'passed' : 'FAILED'}`).join(', ')}\n`);
process.exit(interrupted ? 130 : results.every(([, ok]) => ok) ? 0 : 1);
