/**
 * Fleet-wide container names for `dns` and `local_access` (MAN8S-SPEC §5, Change "fleet-wide names").
 * mbctl resolved every name with the local host's prefix; man8s knows where each container lives, so a
 * name points at the host that really runs it. Names are unique per host only, hence `host/name`.
 */
import type { Fleet, HostSpec } from '../fleet/model.js';
import { isIpLiteral } from './ygg.js';

export interface ContainerRef {
  host: string;
  name: string;
}

export type RefResolution = { ok: true; ref: ContainerRef } | { ok: false; message: string };

/** Host names by container name, including containers whose config is broken (they exist, just reported). */
const indexCache = new WeakMap<Fleet, Map<string, string[]>>();

function hostsByName(fleet: Fleet): Map<string, string[]> {
  let index = indexCache.get(fleet);
  if (!index) {
    index = new Map();
    for (const host of fleet.hosts.values()) {
      for (const name of [...host.containers.keys(), ...host.broken]) {
        const list = index.get(name);
        if (list) list.push(host.name);
        else index.set(name, [host.name]);
      }
    }
    for (const list of index.values()) list.sort();
    indexCache.set(fleet, index);
  }
  return index;
}

export function hostHas(host: HostSpec, name: string): boolean {
  return host.containers.has(name) || host.broken.has(name);
}

/**
 * Resolves `name` or `host/name` as seen from `fromHost`: the same host if it has `name`, else the one
 * other host that has it. `field` prefixes messages (`dns`, `local_access`).
 */
export function resolveContainerRef(fleet: Fleet, fromHost: string, written: string, field: string): RefResolution {
  const slash = written.indexOf('/');
  if (slash >= 0) {
    const hostName = written.slice(0, slash);
    const name = written.slice(slash + 1);
    const host = fleet.hosts.get(hostName);
    if (!host) {
      const known = [...fleet.hosts.keys()].join(', ');
      return { ok: false, message: `${field}: no host "${hostName}" in the fleet (hosts: ${known})` };
    }
    if (!hostHas(host, name)) return { ok: false, message: `${field}: no container "${name}" on host ${hostName}` };
    return { ok: true, ref: { host: hostName, name } };
  }
  const here = fleet.hosts.get(fromHost);
  if (here && hostHas(here, written)) return { ok: true, ref: { host: fromHost, name: written } };
  const elsewhere = (hostsByName(fleet).get(written) ?? []).filter((h) => h !== fromHost);
  if (elsewhere.length === 1) return { ok: true, ref: { host: elsewhere[0]!, name: written } };
  if (elsewhere.length === 0) {
    return { ok: false, message: `${field}: no container "${written}" on ${fromHost} or any other host` };
  }
  const choices = elsewhere.map((h) => `${h}/${written}`).join(' or ');
  return {
    ok: false,
    message: `${field}: "${written}" is not on ${fromHost} but on several other hosts (${elsewhere.join(', ')}); write ${choices}`,
  };
}

export type DnsSetting = { kind: 'host' } | { kind: 'ip'; address: string } | { kind: 'container'; written: string };

/** `host` → the host's resolver; an IP literal → that server; anything else names a container. */
export function classifyDns(dns: string): DnsSetting {
  if (dns === 'host') return { kind: 'host' };
  if (isIpLiteral(dns)) return { kind: 'ip', address: dns };
  return { kind: 'container', written: dns };
}
