/**
 * Network namespaces and links. Hosts hang off a bridge that lives in its own namespace, so the root
 * namespace's firewall (a dockerd there sets FORWARD DROP, and br_netfilter would push bridged frames
 * through it) never sees host-to-host traffic. The root namespace reaches the hosts through one veth
 * into that bridge. Hosts get no default route: the sandbox cannot reach anything beyond its subnet.
 */
import { UserError } from '../errors.js';
import { must, run } from './exec.js';
import { BRIDGE_NETNS, NETNS_PREFIX, ROOT_ADDRESS, ROOT_LINK, SUBNET, bridgePort, hostAddress } from './layout.js';

export async function listSandboxNetns(): Promise<string[]> {
  const r = await run(['ip', 'netns', 'list']);
  return r.stdout
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((n) => n.startsWith(NETNS_PREFIX));
}

function ipv4ToInt(a: string): number {
  return a.split('.').reduce((n, o) => n * 256 + Number(o), 0);
}

/** Refuses to start when the machine already routes part of the sandbox range somewhere else. */
export async function checkSubnetFree(): Promise<void> {
  const r = await run(['ip', '-j', '-4', 'route', 'show', 'table', 'all']);
  if (r.code !== 0) return;
  const routes = JSON.parse(r.stdout || '[]') as Array<{ dst?: string; dev?: string }>;
  const [base] = SUBNET.split('/');
  const lo = ipv4ToInt(base ?? ''), hi = lo + 255;
  for (const route of routes) {
    if (!route.dst || route.dst === 'default' || route.dev === ROOT_LINK) continue;
    const [addr, bitsText] = route.dst.split('/');
    const bits = Number(bitsText ?? 32);
    if (!addr || bits < 8 || !/^\d+\.\d+\.\d+\.\d+$/.test(addr)) continue;
    const start = ipv4ToInt(addr), end = start + 2 ** (32 - bits) - 1;
    if (start <= hi && end >= lo)
      throw new UserError(
        `sandbox: this machine already routes ${route.dst} (dev ${route.dev ?? '?'}), which overlaps the sandbox range ${SUBNET}`,
      );
  }
}

async function linkExists(name: string, netns?: string): Promise<boolean> {
  const argv = netns ? ['ip', '-n', netns, 'link', 'show', name] : ['ip', 'link', 'show', name];
  return (await run(argv)).code === 0;
}

/** Sets sysctls inside a network namespace (/proc/sys/net is per namespace of whoever opens it). */
export async function netnsSysctl(netns: string, settings: Record<string, string>): Promise<void> {
  await must([
    'nsenter',
    `--net=/run/netns/${netns}`,
    'sysctl',
    '-q',
    '-w',
    ...Object.entries(settings).map(([k, v]) => `${k}=${v}`),
  ]);
}

export async function createBridge(): Promise<void> {
  await must(['ip', 'netns', 'add', BRIDGE_NETNS]);
  await must(['ip', '-n', BRIDGE_NETNS, 'link', 'set', 'lo', 'up']);
  await must(['ip', '-n', BRIDGE_NETNS, 'link', 'add', 'br0', 'type', 'bridge']);
  await must(['ip', '-n', BRIDGE_NETNS, 'link', 'set', 'br0', 'up']);
  await must(['ip', 'link', 'add', ROOT_LINK, 'type', 'veth', 'peer', 'name', 'uplink', 'netns', BRIDGE_NETNS]);
  await must(['ip', '-n', BRIDGE_NETNS, 'link', 'set', 'uplink', 'master', 'br0', 'up']);
  await must(['ip', 'addr', 'add', `${ROOT_ADDRESS}/24`, 'dev', ROOT_LINK]);
  await must(['ip', 'link', 'set', ROOT_LINK, 'up']);
}

export async function createHostNetns(netns: string, index: number): Promise<void> {
  await must(['ip', 'netns', 'add', netns]);
  await must(['ip', '-n', netns, 'link', 'set', 'lo', 'up']);
  await must(['ip', '-n', BRIDGE_NETNS, 'link', 'add', bridgePort(index), 'type', 'veth', 'peer', 'name', 'eth0', 'netns', netns]);
  await must(['ip', '-n', BRIDGE_NETNS, 'link', 'set', bridgePort(index), 'master', 'br0', 'up']);
  await must(['ip', '-n', netns, 'addr', 'add', `${hostAddress(index)}/24`, 'dev', 'eth0']);
  await must(['ip', '-n', netns, 'link', 'set', 'eth0', 'up']);
  // Forwarding: the host routes its ygg /64 from the yggdrasil TUN to the man8yggbr bridge, and man8br out.
  await netnsSysctl(netns, {
    'net.ipv4.ip_forward': '1',
    'net.ipv6.conf.all.forwarding': '1',
    'net.ipv6.conf.default.forwarding': '1',
  });
}

/** Pids of every process whose network namespace is netns (`ip netns pids`). */
export async function netnsPids(netns: string): Promise<number[]> {
  const r = await run(['ip', 'netns', 'pids', netns]);
  return r.stdout
    .split('\n')
    .map((l) => Number(l.trim()))
    .filter((n) => Number.isInteger(n) && n > 0);
}

/** Deleting a namespace destroys its links (and a veth's peer with them); the root link goes explicitly. */
export async function deleteNetns(netns: string): Promise<void> {
  await run(['ip', 'netns', 'del', netns]);
}

export async function deleteRootLink(): Promise<void> {
  if (await linkExists(ROOT_LINK)) await run(['ip', 'link', 'del', ROOT_LINK]);
}
