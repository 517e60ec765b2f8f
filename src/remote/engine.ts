/**
 * Container engine commands as argv arrays, for both engines man8s drives:
 * - nerdctl (Man8S hosts): every call carries `--namespace <ns> --snapshotter <s>` so Man8S containers
 *   never touch another containerd namespace (MAN8S-SPEC §1);
 * - docker (the sandbox, hosts that chose it): `docker compose` (v2 plugin) or `docker-compose` (v1),
 *   whichever the host has, as observed (ComposeFlavor).
 *
 * Flags follow nerdctl's docs/command-reference.md. Where nerdctl lacks a docker flag (`compose up
 * --force-recreate` and `--no-deps` are unimplemented) the builders do what mbctl does instead: remove
 * the old container by name, then `compose up -d`.
 *
 * Compose files: one per container, `<storage_path>-state/compose/<name>/compose.yaml` (see paths.ts),
 * with project name = container name, so each container is created, rolled back and removed on its own
 * and `require` ordering stays man8s's job (no compose depends_on across projects).
 */
import type { Engine, HostSettings } from '../fleet/model.js';
import { posix } from 'node:path';
import { quoteArg, quoteArgv } from './quote.js';
import type { HostPaths } from './paths.js';
import { assertSafeName } from './paths.js';
import type { RemoteCommand } from './transport.js';

export type ComposeFlavor = 'nerdctl' | 'docker-compose-v2' | 'docker-compose-v1';

/** The label man8s puts on every container it renders; observe and orphan detection key on it. */
export const MANAGED_LABEL = 'io.man8s.managed';

export interface EngineTarget {
  engine: Engine;
  namespace: string;
  snapshotter: string;
  compose: ComposeFlavor;
}

/** docker defaults to the v2 plugin until observe says the host only has v1. */
export function engineTarget(
  settings: Pick<HostSettings, 'engine' | 'nerdconfig'>,
  compose?: ComposeFlavor,
): EngineTarget {
  return {
    engine: settings.engine,
    namespace: settings.nerdconfig.namespace,
    snapshotter: settings.nerdconfig.snapshotter,
    compose: settings.engine === 'nerdctl' ? 'nerdctl' : compose === 'docker-compose-v1' ? compose : 'docker-compose-v2',
  };
}

/** The engine CLI prefix. */
export function engineCli(t: EngineTarget): string[] {
  return t.engine === 'nerdctl' ? ['nerdctl', '--namespace', t.namespace, '--snapshotter', t.snapshotter] : ['docker'];
}

/** The compose CLI prefix with file and project. */
export function composeCli(t: EngineTarget, file: string, project: string): string[] {
  const head =
    t.compose === 'nerdctl'
      ? [...engineCli(t), 'compose']
      : t.compose === 'docker-compose-v2'
        ? ['docker', 'compose']
        : ['docker-compose'];
  return [...head, '-f', file, '-p', project];
}

export interface ComposeUpOptions {
  services?: string[];
  /** docker only: nerdctl has no --force-recreate; use composeApplyCommand, which removes first. */
  forceRecreate?: boolean;
  /** docker only (nerdctl lacks it; with one project per container there are no deps to skip anyway). */
  noDeps?: boolean;
  removeOrphans?: boolean;
}

export function composeUpArgv(t: EngineTarget, file: string, project: string, o: ComposeUpOptions = {}): string[] {
  if (t.compose === 'nerdctl' && o.forceRecreate) {
    throw new Error('nerdctl compose up has no --force-recreate; use composeApplyCommand (removes, then ups)');
  }
  return [
    ...composeCli(t, file, project),
    'up',
    '-d',
    ...(o.forceRecreate ? ['--force-recreate'] : []),
    ...(o.noDeps && t.compose !== 'nerdctl' ? ['--no-deps'] : []),
    ...(o.removeOrphans ? ['--remove-orphans'] : []),
    ...(o.services ?? []),
  ];
}

export function composePullArgv(t: EngineTarget, file: string, project: string, services: string[] = []): string[] {
  return [...composeCli(t, file, project), 'pull', ...services];
}

export function composeDownArgv(t: EngineTarget, file: string, project: string): string[] {
  return [...composeCli(t, file, project), 'down'];
}

export function restartArgv(t: EngineTarget, names: string[], timeoutSec?: number): string[] {
  return [...engineCli(t), 'restart', ...(timeoutSec !== undefined ? ['-t', String(timeoutSec)] : []), ...names];
}

export function stopArgv(t: EngineTarget, names: string[], timeoutSec?: number): string[] {
  return [...engineCli(t), 'stop', ...(timeoutSec !== undefined ? ['-t', String(timeoutSec)] : []), ...names];
}

export function startArgv(t: EngineTarget, names: string[]): string[] {
  return [...engineCli(t), 'start', ...names];
}

/** Force-removes containers (never their bind-mounted data: no -v, and Man8S uses no volumes). */
export function removeArgv(t: EngineTarget, names: string[]): string[] {
  return [...engineCli(t), 'rm', '-f', ...names];
}

export function pullArgv(t: EngineTarget, image: string): string[] {
  return [...engineCli(t), 'pull', image];
}

/** Every Man8S container, one JSON object per line (`{{json .}}` is documented for both engines). */
export function listManagedArgv(t: EngineTarget): string[] {
  return [...engineCli(t), 'ps', '-a', '--no-trunc', '--filter', `label=${MANAGED_LABEL}=true`, '--format', '{{json .}}'];
}

/** Full container details as a JSON array (nerdctl's default dockercompat mode matches docker's shape). */
export function inspectArgv(t: EngineTarget, names: string[]): string[] {
  return [...engineCli(t), 'inspect', ...names];
}

/** The image id a reference currently points to on the host (compared with a container's image id). */
export function imageIdArgv(t: EngineTarget, ref: string): string[] {
  return [...engineCli(t), 'image', 'inspect', '--format', '{{.Id}}', ref];
}

export interface LogsOptions {
  follow?: boolean;
  /** Lines from the end, or 'all'. */
  tail?: number | 'all';
  /** Timestamp or relative duration (42m). */
  since?: string;
  timestamps?: boolean;
}

export function logsArgv(t: EngineTarget, name: string, o: LogsOptions = {}): string[] {
  return [
    ...engineCli(t),
    'logs',
    ...(o.follow ? ['--follow'] : []),
    ...(o.tail !== undefined ? ['--tail', String(o.tail)] : []),
    ...(o.since !== undefined ? ['--since', o.since] : []),
    ...(o.timestamps ? ['--timestamps'] : []),
    name,
  ];
}

export interface ExecOptions {
  interactive?: boolean;
  tty?: boolean;
  user?: string;
  workdir?: string;
  env?: Record<string, string>;
}

export function execArgv(t: EngineTarget, name: string, command: string[], o: ExecOptions = {}): string[] {
  if (command.length === 0) throw new Error('execArgv: empty command');
  return [
    ...engineCli(t),
    'exec',
    ...(o.interactive ? ['-i'] : []),
    ...(o.tty ? ['-t'] : []),
    ...(o.user !== undefined ? ['-u', o.user] : []),
    ...(o.workdir !== undefined ? ['-w', o.workdir] : []),
    ...Object.entries(o.env ?? {}).flatMap(([k, v]) => ['-e', `${k}=${v}`]),
    name,
    ...command,
  ];
}

export interface ComposeApplyOptions {
  target: EngineTarget;
  paths: HostPaths;
  /** Container name = compose project = service name. */
  name: string;
  /** The rendered compose file. */
  yaml: string;
  /** Remove the existing container first (recreate); mbctl's `run` semantics. */
  recreate?: boolean;
  /** Pull the image before touching the running container (keeps downtime to the recreate). */
  pull?: boolean;
  /** The files-hash the container starts with: recorded once it is up (paths.startedFiles). */
  filesHash?: string;
}

/** The line recording what a container was started with; runs only after the start succeeded (set -e). */
function recordStartedLine(paths: HostPaths, name: string, filesHash: string | undefined): string[] {
  if (filesHash === undefined) return [];
  const file = paths.startedFiles(name);
  return [`mkdir -p ${quoteArg(posix.dirname(file))} && printf '%s\\n' ${quoteArg(filesHash)} >${quoteArg(file)}`];
}

/** `sh -c SCRIPT` text from argv lines: each line quoted by quoteArgv, so values never meet the shell raw. */
function script(lines: string[]): string {
  return ['set -e', ...lines].join('\n');
}

/** Removes a container by name only when it exists (rm -f of a missing name fails on some engines). */
function removeIfExistsLine(t: EngineTarget, name: string): string {
  return `if ${quoteArgv(inspectArgv(t, [name]))} >/dev/null 2>&1; then ${quoteArgv(removeArgv(t, [name]))}; fi`;
}

/**
 * Writes the compose file (YAML on stdin) and brings the container up, in ONE round trip. The file it
 * replaces is kept as compose.previous.yaml, changed or not, for composeRollbackCommand: a recreate with
 * an unchanged file (a pulled image) that fails must roll back to what ran just before, not an older one.
 */
export function composeApplyCommand(o: ComposeApplyOptions): RemoteCommand {
  const { target: t, name } = o;
  assertSafeName(name);
  const file = o.paths.compose(name);
  const lines = [
    'f=$1; prev=$2',
    'mkdir -p "$(dirname "$f")"',
    'cat >"$f.new"',
    'if [ -f "$f" ]; then cp -p "$f" "$prev"; fi',
    'mv -f "$f.new" "$f"',
    ...(o.pull ? [quoteArgv(composePullArgv(t, file, name))] : []),
    ...(o.recreate ? [removeIfExistsLine(t, name)] : []),
    quoteArgv(composeUpArgv(t, file, name, t.compose === 'nerdctl' ? {} : { noDeps: true })),
    ...recordStartedLine(o.paths, name, o.filesHash),
  ];
  return { argv: ['sh', '-c', script(lines), 'man8s-compose', file, o.paths.composePrevious(name)], stdin: o.yaml };
}

/**
 * Puts the previous compose file back and recreates the container from it. Exit 3 = no previous file.
 * `filesHash` is what the restored files hash to (the host's before this deploy).
 */
export function composeRollbackCommand(o: Omit<ComposeApplyOptions, 'yaml' | 'recreate' | 'pull'>): RemoteCommand {
  const { target: t, name } = o;
  assertSafeName(name);
  const file = o.paths.compose(name);
  const lines = [
    'f=$1; prev=$2',
    'if [ ! -f "$prev" ]; then echo "no previous compose file $prev" >&2; exit 3; fi',
    'cp -p "$prev" "$f"',
    removeIfExistsLine(t, name),
    quoteArgv(composeUpArgv(t, file, name, t.compose === 'nerdctl' ? {} : { noDeps: true })),
    ...recordStartedLine(o.paths, name, o.filesHash),
  ];
  return { argv: ['sh', '-c', script(lines), 'man8s-rollback', file, o.paths.composePrevious(name)] };
}

/**
 * `restart` or `start` of containers, in one command, recording for each the files-hash it now runs
 * with (see paths.startedFiles). Nothing is recorded when the engine command fails.
 */
export function startContainersCommand(o: { target: EngineTarget; paths: HostPaths; action: 'restart' | 'start'; containers: ReadonlyArray<{ name: string; filesHash: string }> }): RemoteCommand {
  const names = o.containers.map((c) => (assertSafeName(c.name), c.name));
  if (names.length === 0) throw new Error('startContainersCommand: no containers');
  const lines = [
    quoteArgv(o.action === 'restart' ? restartArgv(o.target, names) : startArgv(o.target, names)),
    ...o.containers.flatMap((c) => recordStartedLine(o.paths, c.name, c.filesHash)),
  ];
  return { argv: ['sh', '-c', script(lines), `man8s-${o.action}`] };
}

/** Removes a container and its compose file (prune of an orphan; its data folders stay). */
export function composeRemoveCommand(o: Omit<ComposeApplyOptions, 'yaml' | 'recreate' | 'pull'>): RemoteCommand {
  const { target: t, name } = o;
  assertSafeName(name);
  const lines = [removeIfExistsLine(t, name), 'rm -rf "$(dirname "$1")"'];
  return { argv: ['sh', '-c', script(lines), 'man8s-remove', o.paths.compose(name)] };
}
