/**
 * E2E support: the sandbox (real hosts in network namespaces on this machine, see src/sandbox/) as
 * suites need it. `npm test` (test/run.ts) brings one sandbox up before the e2e suites and down after;
 * a suite run alone brings its own up and, in release(), down again.
 *
 * When the sandbox cannot start (not Linux, not root, packages missing), ensureSandbox throws with the
 * reason, so the suite fails loudly. It never skips: a green run must mean the e2e tests ran.
 */
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  readSandboxOverlay,
  sandboxDown,
  sandboxReset,
  sandboxStatus,
  sandboxUp,
  sandboxImages,
  sshRun,
  sandboxPaths,
  type SandboxOverlay,
} from '../../src/sandbox/index.js';

/** The repo whose .man8s/ holds the test sandbox (this project). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
/** The demo fleet's hosts; test/run.ts starts exactly these, so suites asking for a subset reuse it. */
export const E2E_HOSTS = ['relink', 'lothric', 'tarrey'];

export interface HostRunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface SandboxHandle {
  hosts: string[];
  overlay: SandboxOverlay;
  /** The overlay file, for a man8s run on a fleet outside this repo (MAN8S_SANDBOX_OVERLAY). */
  overlayFile: string;
  sshConfig: string;
  /** Environment for running the man8s binary against the sandbox. */
  env: NodeJS.ProcessEnv;
  /** Runs argv on a host over ssh (host-key checking on); never throws for a non-zero exit. */
  run(host: string, argv: readonly string[], opts?: { input?: string; timeoutMs?: number }): Promise<HostRunResult>;
  /** Like run, but a non-zero exit throws with the host, command and stderr. */
  mustRun(host: string, argv: readonly string[], opts?: { input?: string; timeoutMs?: number }): Promise<string>;
  /** Tears the sandbox down if this call started it outside test/run.ts (unless MAN8S_KEEP_SANDBOX=1). */
  release(): Promise<void>;
}

export async function ensureSandbox(opts: { hosts?: string[]; images?: string[] } = {}): Promise<SandboxHandle> {
  const hosts = opts.hosts ?? E2E_HOSTS;
  let started = false;
  try {
    const status = await sandboxStatus(REPO_ROOT);
    const have = new Set(status.hosts.map((h) => h.name));
    if (!(status.healthy && hosts.every((h) => have.has(h)))) {
      if (status.state !== 'down') await sandboxDown(REPO_ROOT);
      await sandboxUp({ repoRoot: REPO_ROOT, hosts, install: !!process.env.CI });
      started = true;
    }
    if (opts.images?.length) await sandboxImages(REPO_ROOT, opts.images);
  } catch (err) {
    throw new Error(
      `e2e: the sandbox cannot start: ${(err as Error).message}\n` +
        'e2e tests need Linux and root (sudo npm test); `npm run test:unit` runs the unit tests alone.',
    );
  }
  const p = sandboxPaths(REPO_ROOT);
  const overlay = readSandboxOverlay(REPO_ROOT);
  const run = async (host: string, argv: readonly string[], o: { input?: string; timeoutMs?: number } = {}) => {
    if (!overlay.hosts[host]) throw new Error(`e2e: no sandbox host ${host} (have ${Object.keys(overlay.hosts).join(', ')})`);
    return sshRun(overlay.sshConfig, host, argv, o);
  };
  return {
    hosts: Object.keys(overlay.hosts),
    overlay,
    overlayFile: p.overlayFile,
    sshConfig: overlay.sshConfig,
    env: { ...process.env, MAN8S_SANDBOX: '1', MAN8S_SANDBOX_OVERLAY: p.overlayFile },
    run,
    async mustRun(host, argv, o) {
      const r = await run(host, argv, o);
      if (r.code !== 0) throw new Error(`${host}: ${argv.join(' ')} failed (exit ${r.code}): ${r.stderr.trim()}`);
      return r.stdout;
    },
    async release() {
      if (started && !process.env.MAN8S_E2E_RUNNER && process.env.MAN8S_KEEP_SANDBOX !== '1') await sandboxDown(REPO_ROOT);
    },
  };
}

/**
 * Empties every sandbox host: no containers, nothing under /var/lib/man8s, no man8s lock or state, no
 * networks but the Man8S ones. Call it before a suite so suites do not see each other's leftovers.
 */
export async function resetSandboxHosts(): Promise<void> {
  await sandboxReset(REPO_ROOT);
}
