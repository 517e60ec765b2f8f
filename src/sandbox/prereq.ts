/**
 * What a machine needs to run the sandbox. This list is the one place the Debian packages are named:
 * `man8s sandbox up` checks it, `--install` installs from it, and .ci/run installs through
 * `man8s sandbox prereqs --install`.
 */
import { accessSync, constants, existsSync } from 'node:fs';
import { platform } from 'node:os';
import { UserError } from '../errors.js';
import { run } from './exec.js';

export interface Requirement {
  /** Debian package that provides it. */
  pkg: string;
  /** Absolute paths the sandbox executes; all must exist. */
  files: string[];
}

export const REQUIREMENTS: readonly Requirement[] = [
  { pkg: 'openssh-server', files: ['/usr/sbin/sshd'] },
  { pkg: 'openssh-client', files: ['/usr/bin/ssh', '/usr/bin/ssh-keygen'] },
  { pkg: 'rsync', files: ['/usr/bin/rsync'] },
  // /usr/bin/docker explicitly: a newer client-only docker may come first in PATH (/usr/local/bin).
  { pkg: 'docker.io', files: ['/usr/sbin/dockerd', '/usr/bin/docker'] },
  { pkg: 'docker-compose', files: ['/usr/bin/docker-compose'] },
  { pkg: 'yggdrasil', files: ['/usr/sbin/yggdrasil', '/usr/sbin/yggdrasilctl'] },
  // A static busybox, because it is copied alone into an image with no libc.
  { pkg: 'busybox-static', files: ['/bin/busybox'] },
  { pkg: 'iproute2', files: ['/usr/sbin/ip'] },
  { pkg: 'util-linux', files: ['/usr/bin/unshare', '/usr/bin/nsenter'] },
  { pkg: 'iptables', files: ['/usr/sbin/iptables', '/usr/sbin/ip6tables'] },
  { pkg: 'curl', files: ['/usr/bin/curl'] },
  // A registry (distribution v2) the e2e tests run inside one host's namespace, so `pull` can be tested offline.
  { pkg: 'docker-registry', files: ['/usr/bin/docker-registry'] },
];

export const PACKAGES: readonly string[] = REQUIREMENTS.map((r) => r.pkg);

function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Packages whose files are missing (or, for busybox, not the static build). */
export async function missingPackages(): Promise<string[]> {
  const missing = REQUIREMENTS.filter((r) => !r.files.every(executable)).map((r) => r.pkg);
  if (!missing.includes('busybox-static') && existsSync('/usr/bin/dpkg-query')) {
    // Debian's dynamic `busybox` package also installs /bin/busybox; only the static one runs in an image.
    const q = await run(['dpkg-query', '-W', '-f=${Status}', 'busybox-static']);
    if (!q.stdout.includes('install ok installed')) missing.push('busybox-static');
  }
  return missing;
}

/** Linux and root: the sandbox creates namespaces, mounts and links. */
export function checkPlatform(): void {
  if (platform() !== 'linux')
    throw new UserError(`sandbox: needs Linux (network and mount namespaces); this is ${platform()}`);
  if (typeof process.getuid === 'function' && process.getuid() !== 0)
    throw new UserError('sandbox: needs root (it creates network namespaces, mounts and links); run it with sudo');
  if (!existsSync('/dev/net/tun'))
    throw new UserError('sandbox: /dev/net/tun is missing (yggdrasil needs it); load the tun module: modprobe tun');
}

/** Checks (and with install, apt-get installs) the packages; throws a UserError naming what is missing. */
export async function ensurePackages(install: boolean, log: (line: string) => void): Promise<void> {
  let missing = await missingPackages();
  if (missing.length === 0) return;
  if (!install)
    throw new UserError(
      `sandbox: missing Debian packages: ${missing.join(' ')}; install them with ` +
        `\`apt-get install ${missing.join(' ')}\` or run \`man8s sandbox up --install\``,
    );
  if (!existsSync('/usr/bin/apt-get'))
    throw new UserError(`sandbox: missing packages ${missing.join(' ')} and no apt-get to install them`);
  log(`installing ${missing.join(' ')} with apt-get`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const upd = await run(['apt-get', 'update', '-qq'], { env, timeoutMs: 600_000 });
  if (upd.code !== 0) log(`apt-get update failed (exit ${upd.code}); trying the install anyway`);
  const inst = await run(['apt-get', 'install', '-y', '-qq', '--no-install-recommends', ...missing], {
    env,
    timeoutMs: 1_200_000,
  });
  if (inst.code !== 0)
    throw new UserError(`sandbox: apt-get install ${missing.join(' ')} failed:\n${inst.stderr.trim()}`);
  if (missing.includes('docker-registry') && existsSync('/usr/bin/systemctl')) {
    // On a systemd machine the package starts a registry on :5000 of the machine itself; the sandbox only
    // uses the binary (inside a host's namespace), so nothing is left listening outside it.
    await run(['systemctl', 'disable', '--now', 'docker-registry.service'], { timeoutMs: 60_000 });
  }
  missing = await missingPackages();
  if (missing.length > 0) throw new UserError(`sandbox: still missing after apt-get install: ${missing.join(' ')}`);
}
