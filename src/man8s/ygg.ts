/**
 * Yggdrasil addressing (MAN8S-SPEC §2): host node address → routed /64 subnet → per-container address.
 * Pure functions; the SHA-256 is the only "work" and it is cheap enough for thousands of names.
 */
import { createHash } from 'node:crypto';
import { isIP, isIPv6 } from 'node:net';

/** Parses IPv6 text into its 16 bytes, or undefined when it is not plain IPv6 (no zone, no embedded IPv4). */
export function parseIPv6(text: string): Uint8Array | undefined {
  // net.isIPv6 does the grammar; embedded IPv4 tails and zones are valid IPv6 text but never a ygg address.
  if (!isIPv6(text) || text.includes('.') || text.includes('%')) return undefined;
  const [head = '', tail] = text.split('::') as [string, string | undefined];
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === undefined || tail === '' ? [] : tail.split(':');
  const missing = 8 - headGroups.length - tailGroups.length;
  const groups = tail === undefined ? headGroups : [...headGroups, ...Array<string>(missing).fill('0'), ...tailGroups];
  if (groups.length !== 8) return undefined;
  const bytes = new Uint8Array(16);
  groups.forEach((g, i) => {
    const v = parseInt(g, 16);
    bytes[i * 2] = v >> 8;
    bytes[i * 2 + 1] = v & 0xff;
  });
  return bytes;
}

/** RFC 5952 text: lower case, no leading zeros, the longest run (≥ 2) of zero groups compressed, first one on ties. */
export function formatIPv6(bytes: Uint8Array): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0));
  let bestStart = -1;
  let bestLen = 1; // a single zero group is never compressed
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/**
 * Why a host yggaddr is unusable, or undefined when it is a valid node address.
 * The messages name the fix because the usual mistakes are pasting the subnet or a LAN address.
 */
export function yggaddrProblem(text: string): string | undefined {
  const bytes = parseIPv6(text);
  if (!bytes) return `yggaddr "${text}" is not an IPv6 address; use the host's yggdrasil address (yggdrasilctl getSelf)`;
  const first = bytes[0];
  if (first === 0x03) {
    return `yggaddr "${text}" is a yggdrasil subnet address (first byte 0x03); use the host's node address, which starts with 2xx: (yggdrasilctl getSelf)`;
  }
  if (first !== 0x02) return `yggaddr "${text}" is outside 200::/7; use the host's yggdrasil address (yggdrasilctl getSelf)`;
  return undefined;
}

/** Thrown only when code skipped validation; a validated fleet never gets here. */
function parseNodeAddress(hostYggaddr: string): Uint8Array {
  const problem = yggaddrProblem(hostYggaddr);
  if (problem) throw new Error(problem);
  return parseIPv6(hostYggaddr)!;
}

/** Canonical text of a host's node address. */
export function canonicalYggaddr(hostYggaddr: string): string {
  return formatIPv6(parseNodeAddress(hostYggaddr));
}

/** Parsed prefixes by host yggaddr text: a fleet has few hosts and many containers (pure memo, bounded). */
const prefixMemo = new Map<string, Uint8Array>();

/** The host's routed /64: first byte 0x02 → 0x03, bytes 1–7 kept; the low 64 bits are zero. */
export function subnetPrefix(hostYggaddr: string): Uint8Array {
  let prefix = prefixMemo.get(hostYggaddr);
  if (!prefix) {
    prefix = new Uint8Array(16);
    prefix.set(parseNodeAddress(hostYggaddr).subarray(0, 8));
    prefix[0] = 0x03;
    if (prefixMemo.size > 10_000) prefixMemo.clear();
    prefixMemo.set(hostYggaddr, prefix);
  }
  // A copy: callers fill in the low bytes.
  return prefix.slice();
}

/** `300:7547:78fb:902a::/64` */
export function subnetText(hostYggaddr: string): string {
  return `${formatIPv6(subnetPrefix(hostYggaddr))}/64`;
}

/** `<subnet>::1`, the host side of the container bridge. */
export function bridgeAddress(hostYggaddr: string): string {
  const bytes = subnetPrefix(hostYggaddr);
  bytes[15] = 1;
  return formatIPv6(bytes);
}

/**
 * A container's ygg address: subnet prefix + low 64 bits of SHA-256(name as UTF-8). The yggoverlay CNI
 * plugin derives the same address from the hostname, which is why hostname must equal the name.
 */
export function containerYggaddr(hostYggaddr: string, name: string): string {
  const bytes = subnetPrefix(hostYggaddr);
  const digest = createHash('sha256').update(name, 'utf8').digest();
  bytes.set(digest.subarray(24, 32), 8);
  return formatIPv6(bytes);
}

/** An IPv4 or IPv6 literal, as `dns:` accepts for a plain server. */
export function isIpLiteral(text: string): boolean {
  return isIP(text) !== 0;
}
