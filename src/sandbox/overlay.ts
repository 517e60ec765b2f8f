/**
 * The sandbox overlay: how man8s commands given `--sandbox` (or MAN8S_SANDBOX=1) reach the sandbox hosts
 * instead of production. Written by `man8s sandbox up` to `<repo>/.man8s/sandbox.json` (git-ignored),
 * removed by `man8s sandbox down`. MAN8S_SANDBOX_OVERLAY=<file> points at another overlay (e.g. for a
 * fleet copied to a temporary folder by a test).
 *
 * Format (version 1; all paths absolute):
 * {
 *   "version": 1,
 *   "sshConfig": "/repo/.man8s/sandbox/ssh_config",   // defines every host's ssh alias
 *   "identity": "/repo/.man8s/sandbox/id_ed25519",     // client key accepted by every host (as root)
 *   "knownHosts": "/repo/.man8s/sandbox/known_hosts",  // every host key, under address and alias
 *   "hosts": {
 *     "relink": {
 *       "ssh": "man8s-sandbox-relink",        // alias in sshConfig: `ssh -F <sshConfig> <ssh>`
 *       "sshConfig": "…", "identity": "…", "knownHosts": "…",   // same as above, repeated per host
 *       "user": "root", "address": "10.213.0.11", "port": 22,   // for clients that take no ssh config
 *       "yggaddr": "200:…",                   // the host's real yggdrasil address
 *       "yggsubnet": "300:…::/64",            // its routed /64 (= subnet of man8yggbr)
 *       "engine": "docker",
 *       "storagePath": "/var/lib/man8s"       // the only storage path the sandbox isolates
 *     }
 *   }
 * }
 * The alias only resolves through sshConfig, so a command that forgets `-F` fails instead of reaching
 * a production host of the same name.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../errors.js';
import type { Fleet, HostSpec } from '../fleet/model.js';

export interface SandboxHostOverlay {
  ssh: string;
  sshConfig: string;
  identity: string;
  knownHosts: string;
  user: string;
  address: string;
  port: number;
  yggaddr: string;
  yggsubnet: string;
  engine: 'docker';
  storagePath: string;
}

export interface SandboxOverlay {
  version: 1;
  sshConfig: string;
  identity: string;
  knownHosts: string;
  hosts: Record<string, SandboxHostOverlay>;
}

export function overlayPath(repoRoot: string): string {
  return process.env.MAN8S_SANDBOX_OVERLAY || join(repoRoot, '.man8s', 'sandbox.json');
}

/** Reads the overlay; a missing or unreadable one is a UserError that says how to create it. */
export function readSandboxOverlay(repoRoot: string): SandboxOverlay {
  const file = overlayPath(repoRoot);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new UserError(`--sandbox: no sandbox is running (${file} not found); start one with \`man8s sandbox up --from-fleet\``);
  }
  let overlay: SandboxOverlay;
  try {
    overlay = JSON.parse(text) as SandboxOverlay;
  } catch (err) {
    throw new UserError(`${file}: not valid JSON (${(err as Error).message}); run \`man8s sandbox down\` then \`man8s sandbox up --from-fleet\``);
  }
  if (overlay?.version !== 1 || typeof overlay.hosts !== 'object' || overlay.hosts === null)
    throw new UserError(`${file}: not a version 1 sandbox overlay; run \`man8s sandbox down\` then \`man8s sandbox up --from-fleet\``);
  return overlay;
}

/**
 * The fleet as the sandbox sees it: every host's ssh, yggaddr, engine and storage_path replaced by its
 * sandbox host's. storage_path too, because the sandbox isolates only /var/lib/man8s: any other path
 * would be the machine's real filesystem.
 */
export function applySandboxOverlay(fleet: Fleet, overlay: SandboxOverlay): Fleet {
  const hosts = new Map<string, HostSpec>();
  const missing = [...fleet.hosts.keys()].filter((name) => !overlay.hosts[name]);
  if (missing.length > 0)
    throw new UserError(
      `--sandbox: host${missing.length > 1 ? 's' : ''} ${missing.join(', ')} not in the running sandbox ` +
        `(it has ${Object.keys(overlay.hosts).join(', ') || 'none'}); run \`man8s sandbox down\` then \`man8s sandbox up --from-fleet\``,
    );
  for (const [name, spec] of fleet.hosts) {
    const sb = overlay.hosts[name]!;
    hosts.set(name, {
      ...spec,
      settings: { ...spec.settings, ssh: sb.ssh, ssh_config: sb.sshConfig, yggaddr: sb.yggaddr, engine: sb.engine, storage_path: sb.storagePath },
    });
  }
  return { ...fleet, hosts };
}
