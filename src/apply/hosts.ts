/**
 * Reaching the fleet's hosts: one connection per host per run, hosts in parallel (bounded), and a
 * failure on one host reported for that host without stopping the others.
 */
import pLimit from 'p-limit';
import type { Fleet, HostSpec } from '../fleet/model.js';
import { UserError } from '../errors.js';
import { connectHost, type Connection, type TransportLogger } from '../remote/transport.js';

export interface ConnectSettings {
  acceptNewHostKeys?: boolean;
  /** --verbose: every remote command and its output. */
  logger?: TransportLogger;
}

export function openHost(host: HostSpec, opts: ConnectSettings = {}): Promise<Connection> {
  return connectHost(host.settings.ssh, {
    host: host.name,
    ...(host.settings.ssh_config ? { configFile: host.settings.ssh_config } : {}),
    ...(opts.acceptNewHostKeys ? { acceptNewHostKeys: true } : {}),
    ...(opts.logger ? { logger: opts.logger } : {}),
  });
}

/**
 * The hosts a command names, in fleet order; no names = every host. An unknown name is a UserError
 * listing the hosts that exist.
 */
export function selectHosts(fleet: Fleet, names: readonly string[] = []): HostSpec[] {
  if (names.length === 0) return [...fleet.hosts.values()];
  const unknown = names.filter((n) => !fleet.hosts.has(n));
  if (unknown.length > 0) {
    throw new UserError(`no host ${unknown.map((n) => `"${n}"`).join(', ')} in the fleet (hosts: ${[...fleet.hosts.keys()].join(', ') || 'none'})`);
  }
  return [...new Set(names)].map((n) => fleet.hosts.get(n)!);
}

export type HostOutcome<T> = { host: string; ok: true; value: T } | { host: string; ok: false; error: string };

/** Runs `work` for every host, at most `parallel` at once; each host's error is caught and kept. */
export async function eachHost<T>(hosts: readonly HostSpec[], parallel: number, work: (host: HostSpec) => Promise<T>): Promise<HostOutcome<T>[]> {
  const limit = pLimit(Math.max(1, parallel));
  return Promise.all(
    hosts.map((host) =>
      limit(async (): Promise<HostOutcome<T>> => {
        try {
          return { host: host.name, ok: true, value: await work(host) };
        } catch (err) {
          if (err instanceof UserError) return { host: host.name, ok: false, error: err.message };
          throw err;
        }
      }),
    ),
  );
}

/** The --verbose logger: each remote command and its result, host-prefixed, on stderr. */
export function verboseLogger(write: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): TransportLogger {
  return (e) => {
    if (e.kind === 'command') {
      write(`${e.host} $ ${e.command.length > 400 ? `${e.command.slice(0, 400)}…` : e.command}`);
      return;
    }
    const out = `${e.stdout}${e.stderr}`.trim();
    write(`${e.host}   exit ${e.code} in ${e.ms} ms${out ? `: ${out.length > 2000 ? `${out.slice(0, 2000)}…` : out}` : ''}`);
  };
}
