/**
 * The container engine of a sandbox host: Debian's dockerd with its own data root, socket at the usual
 * /run/docker.sock inside the host (so `docker` over ssh just works), no iptables (the host's netns is
 * private anyway), the Man8S networks, and images built locally because no registry exists here.
 */
import { chmodSync, existsSync, mkdirSync, rmSync, symlinkSync, copyFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { must, startDaemon } from './exec.js';
import { inHost, mustInHost, runInHost } from './host.js';
import { CGROUP_PARENT, type HostPaths, type SandboxPaths } from './layout.js';

/** IPv4/IPv6 ranges of `man8br`; each host has its own network namespace, so all hosts reuse them. */
export const MAN8BR_V4 = '172.30.0.0/16';
export const MAN8BR_V6 = 'fd6d:3862:7200::/64';
export const BUSYBOX_IMAGE = 'busybox:latest';

export function startDockerd(keeper: number, name: string, hp: HostPaths): number {
  mkdirSync(hp.dockerData, { recursive: true });
  writeFileSync(join(hp.etcDocker, 'daemon.json'), '{}\n');
  return startDaemon(
    inHost(keeper, [
      '/usr/sbin/dockerd',
      '--data-root', hp.dockerData,
      '--host', 'unix:///run/docker.sock',
      '--pidfile', '/run/docker.pid',
      '--storage-driver', 'vfs',
      '--iptables=false',
      '--ip6tables=false',
      // Every container of this host lands under one cgroup folder, which `down` can sweep.
      '--cgroup-parent', `/${CGROUP_PARENT}/${name}`,
      // Demo containers (busybox httpd as pid 1) ignore SIGTERM; don't wait 15 s for each at `down`.
      '--shutdown-timeout', '2',
    ]),
    hp.log('dockerd'),
  );
}

export async function dockerReady(keeper: number): Promise<boolean> {
  return (await runInHost(keeper, ['/usr/bin/docker', 'version', '--format', '{{.Server.Version}}'], { timeoutMs: 5000 })).code === 0;
}

/** `300:7547:78fb:902a::/64` → `300:7547:78fb:902a::1`. */
export function subnetGateway(subnet: string): string {
  const prefix = subnet.replace(/\/64$/, '');
  return prefix.endsWith('::') ? `${prefix}1` : `${prefix}::1`;
}

export async function createNetworks(keeper: number, yggsubnet: string): Promise<void> {
  const docker = (args: string[]) => mustInHost(keeper, ['/usr/bin/docker', ...args]);
  await docker([
    'network', 'create', '--ipv6',
    '--subnet', yggsubnet,
    '--gateway', subnetGateway(yggsubnet),
    '-o', 'com.docker.network.bridge.name=man8yggbr',
    'man8yggbr',
  ]);
  await docker([
    'network', 'create', '--ipv6',
    '--subnet', MAN8BR_V4,
    '--subnet', MAN8BR_V6,
    '-o', 'com.docker.network.bridge.name=man8br',
    'man8br',
  ]);
  // dockerd runs with --iptables=false, so the NAT of man8br is added here, inside the host's netns only.
  await mustInHost(keeper, ['iptables', '-t', 'nat', '-A', 'POSTROUTING', '-s', MAN8BR_V4, '!', '-o', 'man8br', '-j', 'MASQUERADE']);
  await mustInHost(keeper, ['ip6tables', '-t', 'nat', '-A', 'POSTROUTING', '-s', MAN8BR_V6, '!', '-o', 'man8br', '-j', 'MASQUERADE']);
}

/** A rootfs tarball of Debian's static busybox with every applet linked, built once per sandbox. */
export async function buildBusyboxTar(p: SandboxPaths): Promise<void> {
  if (existsSync(p.busyboxTar)) return;
  const root = join(p.stateDir, 'busybox-rootfs');
  rmSync(root, { recursive: true, force: true });
  for (const d of ['bin', 'sbin', 'usr/bin', 'usr/sbin', 'etc', 'root', 'proc', 'sys', 'dev', 'var/www', 'tmp'])
    mkdirSync(join(root, d), { recursive: true });
  chmodSync(join(root, 'tmp'), 0o1777);
  copyFileSync('/bin/busybox', join(root, 'bin/busybox'));
  chmodSync(join(root, 'bin/busybox'), 0o755);
  const applets = (await must(['/bin/busybox', '--list-full'])).split('\n').filter((a) => a && a !== 'bin/busybox');
  for (const applet of applets) {
    const dest = join(root, applet);
    mkdirSync(dirname(dest), { recursive: true });
    if (!existsSync(dest)) symlinkSync('/bin/busybox', dest);
  }
  writeFileSync(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n');
  writeFileSync(join(root, 'etc/group'), 'root:x:0:\nnogroup:x:65534:\n');
  await must(['tar', '--numeric-owner', '--owner=0', '--group=0', '-C', root, '-cf', p.busyboxTar, '.']);
  rmSync(root, { recursive: true, force: true });
}

export async function importBusybox(keeper: number, p: SandboxPaths): Promise<void> {
  // busybox:latest and docker.io/library/busybox:latest are the same reference to docker.
  await mustInHost(keeper, ['/usr/bin/docker', 'import', '-c', 'CMD ["sh"]', p.busyboxTar, BUSYBOX_IMAGE]);
}

const STANDIN_SCRIPT = `#!/bin/sh
# man8s sandbox stand-in: whatever the real image would run, this serves one page naming the image ($1,
# baked into the ENTRYPOINT) and the container's host name, so a demo container answers HTTP on its
# address. The container's own arguments follow and are ignored.
mkdir -p /tmp/man8s-standin
echo "man8s sandbox stand-in for $1 on $(hostname)" > /tmp/man8s-standin/index.html
exec httpd -f -p 80 -h /tmp/man8s-standin
`;

/** Three instructions only: with vfs, every instruction of the classic builder copies the whole rootfs. */
function standinDockerfile(image: string): string {
  return `FROM ${BUSYBOX_IMAGE}\nCOPY standin.sh /man8s-standin\nENTRYPOINT ${JSON.stringify(['/man8s-standin', image])}\n`;
}

function writeStandinContext(dir: string): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'standin.sh'), STANDIN_SCRIPT, { mode: 0o755 });
}

/**
 * Builds, on one host, a stand-in for every image the engine does not have yet (FROM the local busybox,
 * classic builder: no registry, no network). Returns the images it built.
 */
export async function ensureStandins(keeper: number, p: SandboxPaths, images: readonly string[]): Promise<string[]> {
  writeStandinContext(p.standinDir);
  const built: string[] = [];
  for (const image of images) {
    const have = await runInHost(keeper, ['/usr/bin/docker', 'image', 'inspect', '--format', '{{.Id}}', image]);
    if (have.code === 0) continue;
    await mustInHost(keeper, ['/usr/bin/docker', 'build', '-q', '--label', `org.man8s.sandbox.standin=${image}`, '-t', image, '-f', '-', p.standinDir], {
      input: standinDockerfile(image),
      env: { ...process.env, DOCKER_BUILDKIT: '0' },
    });
    built.push(image);
  }
  return built;
}
