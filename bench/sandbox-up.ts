/**
 * Bring-up time of a 3-host sandbox (target: under 60 s), measured around the real CLI, plus teardown.
 * Usage (root): npm run bench:sandbox [-- runs]   — takes down any sandbox of this repo first.
 */
import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'dist', 'cli.js');
const runs = Number(process.argv[2] ?? 3);

function timed(args: string[]): number {
  const t = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [cli, 'sandbox', ...args], { cwd: root, encoding: 'utf8' });
  const s = Number(process.hrtime.bigint() - t) / 1e9;
  if (r.status !== 0) {
    process.stderr.write(r.stdout + r.stderr);
    process.exit(1);
  }
  return s;
}

timed(['down']);
const ups: number[] = [];
const downs: number[] = [];
for (let i = 0; i < runs; i++) {
  ups.push(timed(['up', '--hosts', 'a,b,c']));
  downs.push(timed(['down']));
}
const fmt = (xs: number[]) => `min ${Math.min(...xs).toFixed(1)} s, max ${Math.max(...xs).toFixed(1)} s`;
process.stdout.write(
  `sandbox up (3 hosts, healthy and peered, wall clock incl. node start), ${runs} runs: ${fmt(ups)}\n` +
    `sandbox down: ${fmt(downs)}\n`,
);
