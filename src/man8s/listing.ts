/** What `man8s ls --offline` shows: every configured container, from git alone. */
import type { Fleet } from '../fleet/model.js';
import { getHost } from './lookup.js';
import { containerYggaddr } from './ygg.js';

export interface ListingRow {
  host: string;
  name: string;
  image: string;
  autostart: boolean;
  /** Absent (null in JSON) when enable_ygg is false: such a container has no ygg address. */
  yggaddr: string | null;
  require: string[];
  engine: string;
}

/** Rows for the given hosts (all when empty), host then container name order. Unknown hosts are a UserError. */
export function fleetListing(fleet: Fleet, hostNames: string[] = []): ListingRow[] {
  const hosts = hostNames.length ? [...new Set(hostNames)].map((h) => getHost(fleet, h)) : [...fleet.hosts.values()];
  return hosts.flatMap((host) =>
    [...host.containers.values()].map((spec) => ({
      host: host.name,
      name: spec.name,
      image: spec.config.image,
      autostart: spec.config.autostart,
      yggaddr: spec.config.enable_ygg ? containerYggaddr(host.settings.yggaddr, spec.name) : null,
      require: [...spec.config.require],
      engine: host.settings.engine,
    })),
  );
}
