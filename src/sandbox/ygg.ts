/**
 * yggdrasil on sandbox hosts: a fresh key each, listening on the host address, peered to the hosts
 * before it. Hosts start in order and each waits for its own admin socket, so every dial reaches a
 * listener that is already up (yggdrasil retries a failed dial only after about a minute).
 */
import { writeFileSync } from 'node:fs';
import { must, startDaemon } from './exec.js';
import { inHost, runInHost } from './host.js';
import { YGG_PORT, hostAddress, type HostPaths } from './layout.js';

export const YGG_IFNAME = 'ygg0';

export async function writeYggConfig(hp: HostPaths, name: string, index: number): Promise<void> {
  const conf = JSON.parse(await must(['yggdrasil', '-genconf', '-json'])) as Record<string, unknown>;
  conf.Listen = [`tcp://${hostAddress(index)}:${YGG_PORT}`];
  conf.Peers = Array.from({ length: index - 1 }, (_, i) => `tcp://${hostAddress(i + 1)}:${YGG_PORT}`);
  // No multicast discovery: peering is exactly the list above, and nothing is announced on other links.
  conf.MulticastInterfaces = [];
  conf.AdminListen = 'unix:///var/run/yggdrasil/yggdrasil.sock';
  conf.IfName = YGG_IFNAME;
  conf.NodeInfo = { name: `man8s-sandbox-${name}` };
  writeFileSync(hp.yggConfig, `${JSON.stringify(conf, null, 2)}\n`, { mode: 0o600 });
}

/** The node address and routed /64, derived from the key in the config (no daemon needed). */
export async function yggIdentity(hp: HostPaths): Promise<{ yggaddr: string; yggsubnet: string }> {
  const yggaddr = (await must(['yggdrasil', '-useconffile', hp.yggConfig, '-address'])).trim();
  const yggsubnet = (await must(['yggdrasil', '-useconffile', hp.yggConfig, '-subnet'])).trim();
  return { yggaddr, yggsubnet };
}

export function startYggdrasil(keeper: number, hp: HostPaths): number {
  return startDaemon(inHost(keeper, ['yggdrasil', '-useconffile', hp.yggConfig, '-logto', 'stdout']), hp.log('yggdrasil'));
}

/** True once the admin socket answers (the listener is up by then: it starts first). */
export async function yggReady(keeper: number): Promise<boolean> {
  return (await runInHost(keeper, ['yggdrasilctl', '-json', 'getSelf'], { timeoutMs: 5000 })).code === 0;
}

/** Addresses of the connected peers, or undefined when the admin socket does not answer. */
export async function yggPeers(keeper: number): Promise<string[] | undefined> {
  const r = await runInHost(keeper, ['yggdrasilctl', '-json', 'getPeers'], { timeoutMs: 5000 });
  if (r.code !== 0) return undefined;
  try {
    // 0.4.7: {"peers": [{"address": …, "remote": …}]}; older 0.4.x: {"peers": {"<address>": {…}}}.
    const peers = (JSON.parse(r.stdout) as { peers?: unknown }).peers;
    if (Array.isArray(peers))
      return peers.filter((p) => (p as { up?: boolean }).up !== false).map((p) => String((p as { address?: string }).address));
    if (peers && typeof peers === 'object') return Object.keys(peers);
    return [];
  } catch {
    return undefined;
  }
}

export async function yggPeerCount(keeper: number): Promise<number | undefined> {
  return (await yggPeers(keeper))?.length;
}

/**
 * Dials a configured peer again now. yggdrasil retries a failed dial only after about a minute, and
 * `addPeer` of a configured peer is refused, so the peer is removed and added back.
 */
export async function redialPeer(keeper: number, index: number): Promise<void> {
  const uri = `uri=tcp://${hostAddress(index)}:${YGG_PORT}`;
  await runInHost(keeper, ['yggdrasilctl', 'removePeer', uri], { timeoutMs: 5000 });
  await runInHost(keeper, ['yggdrasilctl', 'addPeer', uri], { timeoutMs: 5000 });
}
