/** Picking a host or container by a name the user typed, with an error that lists what exists. */
import { UserError } from '../errors.js';
import type { ContainerSpec, Fleet, HostSpec } from '../fleet/model.js';

export function getHost(fleet: Fleet, hostName: string): HostSpec {
  const host = fleet.hosts.get(hostName);
  if (host) return host;
  const known = [...fleet.hosts.keys()];
  throw new UserError(`unknown host "${hostName}"; the fleet has: ${known.length ? known.join(', ') : '(no hosts)'}`);
}

export function getContainer(fleet: Fleet, hostName: string, name: string): ContainerSpec {
  const host = getHost(fleet, hostName);
  const spec = host.containers.get(name);
  if (spec) return spec;
  const elsewhere = [...fleet.hosts.values()].filter((h) => h.containers.has(name)).map((h) => h.name);
  const hint = elsewhere.length ? ` (it is on ${elsewhere.join(', ')})` : '';
  const known = [...host.containers.keys()];
  throw new UserError(
    `no container "${name}" on ${hostName}${hint}; ${hostName} has: ${known.length ? known.join(', ') : '(no containers)'}`,
  );
}
