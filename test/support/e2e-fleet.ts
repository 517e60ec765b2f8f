/**
 * A throwaway fleet repo (git init, committed) whose hosts ARE the sandbox hosts, written the way a user
 * would: man8s.yaml points `ssh_config` at the sandbox's ssh config, each host.yaml names its sandbox
 * alias and real yggdrasil address. The real built CLI runs against it — no --sandbox overlay, so
 * deployed.yaml write-back commits happen exactly as in production.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { REPO_ROOT, type SandboxHandle } from './sandbox.js';

export const CLI = join(REPO_ROOT, 'dist', 'cli.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface E2EFleet {
  dir: string;
  /** Writes a file below the repo (parents created). `{ symlink }` makes a link instead. */
  write(path: string, content: string | { symlink: string }): void;
  remove(path: string): void;
  /** git add -A && git commit. */
  commit(message: string): void;
  git(...args: string[]): string;
  /** Runs the real man8s binary in the repo (no TTY, CI=1 like a pipeline). */
  man8s(args: string[], opts?: { env?: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<CliResult>;
  cleanup(): void;
}

export function makeSandboxFleet(sb: SandboxHandle, hosts: readonly string[]): E2EFleet {
  const dir = mkdtempSync(join(tmpdir(), 'man8s-e2e-fleet-'));
  const git = (...args: string[]) => execFileSync('git', args, { cwd: dir, encoding: 'utf8' });
  git('init', '-q', '-b', 'main');
  git('config', 'user.email', 'e2e@man8s.test');
  git('config', 'user.name', 'man8s e2e');
  const write: E2EFleet['write'] = (path, content) => {
    const abs = join(dir, path);
    mkdirSync(dirname(abs), { recursive: true });
    rmSync(abs, { force: true });
    if (typeof content === 'string') writeFileSync(abs, content);
    else symlinkSync(content.symlink, abs);
  };
  write('man8s.yaml', `defaults:\n  ssh_config: ${sb.sshConfig}\n  engine: docker\n`);
  for (const h of hosts) {
    const o = sb.overlay.hosts[h];
    if (!o) throw new Error(`e2e: no sandbox host ${h}`);
    write(`hosts/${h}/host.yaml`, `ssh: ${o.ssh}\nyggaddr: ${o.yggaddr}\n`);
  }
  return {
    dir,
    write,
    remove: (path) => rmSync(join(dir, path), { recursive: true, force: true }),
    commit: (message) => {
      git('add', '-A');
      git('commit', '-q', '--allow-empty', '-m', message);
    },
    git,
    man8s: (args, opts = {}) =>
      new Promise((resolve, reject) => {
        const env = { ...process.env, CI: '1', NO_COLOR: '1', ...opts.env };
        delete env.MAN8S_SANDBOX;
        delete env.MAN8S_SANDBOX_OVERLAY;
        const child = spawn(process.execPath, [CLI, ...args], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
        const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 180_000);
        child.on('error', reject);
        child.on('close', (code) => {
          clearTimeout(timer);
          resolve({ code: code ?? 1, stdout, stderr });
        });
      }),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** `docker inspect` fields of a container on a sandbox host, or null when it does not exist. */
export async function inspect(sb: SandboxHandle, host: string, name: string): Promise<{ id: string; startedAt: string; status: string } | null> {
  const r = await sb.run(host, ['docker', 'inspect', '--format', '{{.Id}}|{{.State.StartedAt}}|{{.State.Status}}', name]);
  if (r.code !== 0) return null;
  const [id, startedAt, status] = r.stdout.trim().split('|');
  return { id: id!, startedAt: startedAt!, status: status! };
}
