import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { APP_FILE, HOST_FILE, HOST_YAML, makeRepo, OTHER_HOST_YAML } from '../support/fleet-fixture.js';
import type { FixtureEntry } from '../support/fleet-fixture.js';
import type { TestContext } from 'node:test';
import { loadFleetOrFail } from '../../src/cli/context.js';
import { UserError } from '../../src/errors.js';

// End to end through the built binary (npm test builds first), the way a user or CI runs it.
const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

function man8s(cwd: string, ...args: string[]) {
  assert.ok(existsSync(CLI), `${CLI} is missing: run npm run build first`);
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
  delete env.MAN8S_SANDBOX;
  delete env.MAN8S_NO_CACHE;
  const run = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8', env });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

const VALID: Record<string, FixtureEntry> = {
  [HOST_FILE]: HOST_YAML,
  [APP_FILE]: 'image: nginx\nport: [[80, 80]]\n',
  'hosts/relink/conf/db/container.yaml': 'image: postgres\n',
  'hosts/lothric/host.yaml': OTHER_HOST_YAML,
  'hosts/lothric/conf/app/container.yaml': 'image: nginx\n',
};

const INVALID: Record<string, FixtureEntry> = {
  [HOST_FILE]: HOST_YAML,
  [APP_FILE]: 'image: nginx\nport:\n  - [80, 80000]\nimgae: x\n',
  'hosts/relink/conf/db/container.yaml': 'image: [\n',
  'hosts/lothric/host.yaml': 'yggaddr: 200::1\nengine: podman\n',
};

const INVALID_LINES = [
  'hosts/lothric/host.yaml:2:9: "engine" must be one of nerdctl, docker, got "podman"',
  'hosts/relink/conf/app/container.yaml:3:10: "port[0][1]" must be between 1 and 65535, got 80000',
  'hosts/relink/conf/app/container.yaml:4:1: unknown key "imgae" (did you mean "image"?)',
];

function repo(t: TestContext, files: Record<string, FixtureEntry>): string {
  return makeRepo(t, files);
}

test('validate: a valid fleet prints a one-line summary and exits 0', (t) => {
  const run = man8s(repo(t, VALID), 'validate');
  assert.equal(run.stderr, '');
  assert.equal(run.stdout, 'fleet ok: 2 hosts, 3 containers\n');
  assert.equal(run.code, 0);
});

test('validate: every problem, sorted by file and line, then a count; exit 1', (t) => {
  const run = man8s(repo(t, INVALID), 'validate');
  const lines = run.stdout.trimEnd().split('\n');
  assert.equal(lines.length, 4, run.stdout);
  assert.deepEqual([lines[0], lines[1], lines[2]], INVALID_LINES);
  assert.match(lines[3]!, /^hosts\/relink\/conf\/db\/container\.yaml:2:1: YAML syntax: /);
  assert.equal(run.stderr, 'man8s: 4 problems in 3 files\n');
  assert.equal(run.code, 1);
});

test('validate prints the same on a second run, when the parse cache answers (git repo)', (t) => {
  const dir = repo(t, { ...INVALID, '.git': { dir: true } });
  const first = man8s(dir, 'validate');
  assert.ok(existsSync(join(dir, '.man8s/cache/.gitignore')), 'the first run wrote the cache');
  assert.deepEqual(man8s(dir, 'validate'), first);
  assert.equal(first.code, 1);
  const good = repo(t, { ...VALID, '.git': { dir: true } });
  man8s(good, 'validate');
  assert.deepEqual(man8s(good, 'validate'), { code: 0, stdout: 'fleet ok: 2 hosts, 3 containers\n', stderr: '' });
});

test('validate --json prints the diagnostics array and keeps the exit code', (t) => {
  const bad = man8s(repo(t, INVALID), 'validate', '--json');
  const diagnostics = JSON.parse(bad.stdout);
  assert.equal(bad.code, 1);
  assert.equal(diagnostics.length, 4);
  assert.deepEqual(diagnostics[0], { file: 'hosts/lothric/host.yaml', line: 2, col: 9, message: '"engine" must be one of nerdctl, docker, got "podman"' });
  const good = man8s(repo(t, VALID), 'validate', '--json');
  assert.deepEqual(JSON.parse(good.stdout), []);
  assert.equal(good.code, 0);
});

test('validate includes the Man8S rules (checkFleet) after the loader', (t) => {
  const run = man8s(repo(t, { [HOST_FILE]: HOST_YAML, [APP_FILE]: 'image: nginx\nrequire:\n  - nope\n' }), 'validate');
  assert.equal(run.code, 1);
  assert.match(run.stdout, /^hosts\/relink\/conf\/app\/container\.yaml:3:5: .*"nope"/);
  assert.equal(run.stderr, 'man8s: 1 problem in 1 file\n');
});

test('validate --fleet DIR reads another folder; a missing one is a one-line error', (t) => {
  const dir = repo(t, { 'infra/relink/host.yaml': HOST_YAML });
  const ok = man8s(dir, 'validate', '--fleet', 'infra');
  assert.equal(ok.stdout, 'fleet ok: 1 host, 0 containers\n');
  assert.equal(ok.code, 0);
  const missing = man8s(dir, 'validate');
  assert.equal(missing.stdout, '');
  assert.equal(
    missing.stderr,
    'man8s: fleet root hosts (the default fleet root) does not exist; pass --fleet DIR, set fleet: in man8s.yaml, or create hosts/<host>/host.yaml\n',
  );
  assert.equal(missing.code, 1);
});

test('validate --help shows an example', (t) => {
  const run = man8s(repo(t, VALID), 'validate', '--help');
  assert.equal(run.code, 0);
  assert.match(run.stdout, /Examples:\n\s+man8s validate /);
});

test('schema container|host|man8s prints the JSON Schema; an unknown kind is a usage error', (t) => {
  const dir = repo(t, VALID);
  const container = man8s(dir, 'schema', 'container');
  assert.equal(container.code, 0);
  assert.deepEqual(JSON.parse(container.stdout), JSON.parse(readFileSync(new URL('../../schemas/container.schema.json', import.meta.url), 'utf8')));
  const host = man8s(dir, 'schema', 'host');
  assert.deepEqual(JSON.parse(host.stdout), JSON.parse(readFileSync(new URL('../../schemas/host.schema.json', import.meta.url), 'utf8')));
  const settings = man8s(dir, 'schema', 'man8s');
  assert.deepEqual(Object.keys(JSON.parse(settings.stdout).properties), ['fleet', 'defaults']);
  const bad = man8s(dir, 'schema', 'hosts');
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /Choices: "container", "host", "man8s"/);
  assert.match(man8s(dir, 'schema', '--help').stdout, /Examples:/);
});

test('loadFleetOrFail returns a valid fleet and refuses an invalid one with every problem listed', async (t) => {
  const good = await loadFleetOrFail({ sandbox: false, verbose: false }, repo(t, VALID));
  assert.deepEqual([...good.hosts.keys()], ['lothric', 'relink']);
  const dir = repo(t, { [HOST_FILE]: HOST_YAML, [APP_FILE]: 'image: nginx\nport:\n  - [80, 80000]\nimgae: x\n' });
  await assert.rejects(
    loadFleetOrFail({ sandbox: false, verbose: false }, dir),
    (err: unknown) =>
      err instanceof UserError &&
      err.message === ['the fleet has 2 problems; fix them first:', INVALID_LINES[1], INVALID_LINES[2]].join('\n'),
  );
});

/** The command words under `Commands:` in a help text (`man8s sandbox up  Start…` → `sandbox up`). */
function subcommands(help: string, prefix: string[]): string[][] {
  const section = help.split('\nCommands:\n')[1]?.split('\n\n')[0] ?? '';
  return section
    .split('\n')
    .map((line) => line.trim().split(/\s+/).slice(1))
    .filter((words) => words.length > prefix.length && prefix.every((w, i) => words[i] === w))
    .map((words) => [...prefix, words[prefix.length]!]);
}

test('every command and subcommand has --help with an Examples: section', (t) => {
  const dir = repo(t, VALID);
  const seen: string[] = [];
  const walk = (words: string[]): void => {
    const run = man8s(dir, ...words, '--help');
    assert.equal(run.code, 0, `man8s ${words.join(' ')} --help: ${run.stderr}`);
    assert.match(run.stdout, /\nExamples:\n {2}man8s /, `man8s ${words.join(' ')} --help has no example`);
    seen.push(words.join(' '));
    for (const sub of subcommands(run.stdout, words)) walk(sub);
  };
  walk([]);
  // The walk found the commands through the help texts themselves; make sure it reached the nested ones.
  for (const c of ['validate', 'ls', 'deploy', 'pull', 'gc', 'logs', 'setup', 'completion', 'sandbox', 'sandbox up', 'sandbox prereqs']) assert.ok(seen.includes(c), `walk missed ${c}: ${seen.join(', ')}`);
});

/** Sources `man8s completion bash` in bash and completes `line` (the last word is the one under the cursor). */
function bashComplete(cwd: string, line: string[]): string[] {
  const script = man8s(cwd, 'completion', 'bash');
  assert.equal(script.code, 0, script.stderr);
  const file = join(cwd, '.man8s-completion.bash');
  writeFileSync(file, script.stdout);
  const words = line.map((w) => `'${w}'`).join(' ');
  const run = spawnSync('bash', ['-c', `set -e; source "$1"; COMP_WORDS=(${words}); COMP_CWORD=${line.length - 1}; _man8s_completions; printf '%s\\n' "\${COMPREPLY[@]}"`, 'bash', file], {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, SHELL: '/bin/zsh' },
  });
  assert.equal(run.status, 0, run.stderr);
  return run.stdout.split('\n').filter(Boolean).sort();
}

test('completion bash: a working script completing commands, subcommands, options and the fleet\'s names', (t) => {
  const dir = repo(t, { ...VALID, 'hosts/relink/conf/app/etc/x': 'x' });
  assert.deepEqual(bashComplete(dir, ['man8s', 'sta']), ['start', 'status']);
  assert.deepEqual(bashComplete(dir, ['man8s', 'sandbox', 're']), ['reset']);
  assert.deepEqual(bashComplete(dir, ['man8s', 'logs', '--ta']), ['--tail']);
  // Hosts where a command takes hosts; containers by name, host/name for a name two hosts have.
  assert.deepEqual(bashComplete(dir, ['man8s', 'status', '']), ['lothric', 'relink']);
  assert.deepEqual(bashComplete(dir, ['man8s', 'deploy', 'relink', 'l']), ['lothric']);
  assert.deepEqual(bashComplete(dir, ['man8s', 'logs', '']), ['db', 'lothric/app', 'relink/app']);
  assert.deepEqual(bashComplete(dir, ['man8s', 'restart', 'relink/']), ['relink/app', 'relink/db']);
  assert.deepEqual(bashComplete(dir, ['man8s', 'render', 'lothric', '']), ['app']);
  // Outside a fleet: commands and options only, and no error on the terminal.
  const empty = repo(t, {});
  assert.deepEqual(bashComplete(empty, ['man8s', 'status', '--j']), ['--json']);
  assert.deepEqual(bashComplete(empty, ['man8s', 'logs', 'x']), []);
});

test('completion zsh: compdef script, and words in zsh\'s name:description form', (t) => {
  const dir = repo(t, VALID);
  const script = man8s(dir, 'completion', 'zsh');
  assert.equal(script.code, 0, script.stderr);
  assert.match(script.stdout, /^#compdef man8s\n/);
  assert.match(script.stdout, /compdef _man8s_completions man8s\n/);
  assert.match(script.stdout, /SHELL=zsh .* --get-yargs-completions "\$\{\(@\)words\[1,CURRENT\]\}"/);
  const env: NodeJS.ProcessEnv = { ...process.env, SHELL: 'zsh' };
  const ask = (...words: string[]) => spawnSync(process.execPath, [CLI, '--get-yargs-completions', 'man8s', ...words], { cwd: dir, encoding: 'utf8', env }).stdout.split('\n').filter(Boolean);
  assert.deepEqual(ask('ssh', ''), ['lothric:host', 'relink:host']);
  assert.ok(ask('').includes('completion:Print a completion script for bash or zsh: commands, options, and the fleet\'s host and container names'));
  // The default follows $SHELL; an unknown shell is a usage error naming the choices.
  assert.match(spawnSync(process.execPath, [CLI, 'completion'], { cwd: dir, encoding: 'utf8', env }).stdout, /^#compdef man8s/);
  assert.match(spawnSync(process.execPath, [CLI, 'completion'], { cwd: dir, encoding: 'utf8', env: { ...env, SHELL: '/bin/bash' } }).stdout, /^###-begin-man8s-completions-###/);
  const fish = man8s(dir, 'completion', 'fish');
  assert.equal(fish.code, 1);
  assert.match(fish.stderr, /Choices: "bash", "zsh"/);
});
