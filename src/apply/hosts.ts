/**
 * Reaching the fleet's hosts: one connection per host per run, hosts in parallel (bounded), and a
 * failure on one host reported for that host without stopping the others.
 */
import pLimit from 'p-limit';
import type { Fleet, HostSpec } from '../fleet/model.js';
import { UserError } from '../errors.js';
import { connectHost, type Connection, type ConnectionStats, type TransportLogger } from '../remote/transport.js';

/** A host's failure with what reaching it cost so far, so --stats shows hosts that failed early too. */
export class HostFailure extends UserError {
  constructor(
    message: string,
    readonly stats: ConnectionStats,
    exitCode?: number,
  ) {
    super(message, exitCode);
  }
}

export interface ConnectSettings {
  acceptNewHostKeys?: boolean;
  /** --verbose: every remote command and its output. */
  logger?: TransportLogger;
}

/** The stats of a host never reached: no connection, only the time spent trying since `started`. */
export function unreachedStats(host: string, started: number): ConnectionStats {
  return { host, connections: 0, commands: 0, bytesSent: 0, bytesReceived: 0, seconds: (Date.now() - started) / 1000 };
}

/** Connects to a fleet host; a failure is a HostFailure whose stats count the time spent trying. */
export async function openHost(host: HostSpec, opts: ConnectSettings = {}): Promise<Connection> {
  const started = Date.now();
  try {
    return await connectHost(host.settings.ssh, {
      host: host.name,
      startedAt: started,
      ...(host.settings.ssh_config ? { configFile: host.settings.ssh_config } : {}),
      ...(opts.acceptNewHostKeys ? { acceptNewHostKeys: true } : {}),
      ...(opts.logger ? { logger: opts.logger } : {}),
    });
  } catch (err) {
    if (!(err instanceof UserError)) throw err;
    throw new HostFailure(err.message, unreachedStats(host.name, started), err.exitCode);
  }
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

export type HostOutcome<T> = { host: string; ok: true; value: T } | { host: string; ok: false; error: string; exitCode: number; stats?: ConnectionStats };

/** Runs `work` for every host, at most `parallel` at once; each host's error (and its stats) is caught and kept. */
export async function eachHost<T>(hosts: readonly HostSpec[], parallel: number, work: (host: HostSpec) => Promise<T>): Promise<HostOutcome<T>[]> {
  const limit = pLimit(Math.max(1, parallel));
  return Promise.all(
    hosts.map((host) =>
      limit(async (): Promise<HostOutcome<T>> => {
        try {
          return { host: host.name, ok: true, value: await work(host) };
        } catch (err) {
          if (err instanceof UserError) return { host: host.name, ok: false, error: err.message, exitCode: err.exitCode, ...(err instanceof HostFailure ? { stats: err.stats } : {}) };
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
