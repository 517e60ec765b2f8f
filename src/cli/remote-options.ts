import type { Argv } from 'yargs';
import type { ConnectionStats } from '../remote/transport.js';
import { formatTable } from './table.js';
import { verboseLogger, type ConnectSettings } from '../apply/hosts.js';
import type { GlobalOptions } from './global.js';

/** Options of every command that talks to hosts. */
export interface RemoteOptions {
  'accept-new-host-keys': boolean;
  parallel: number;
  stats: boolean;
}

export function withRemoteOptions<T>(y: Argv<T>): Argv<T & RemoteOptions> {
  return y
    .option('accept-new-host-keys', {
      type: 'boolean',
      default: false,
      describe: 'Record the key of a host never seen before in known_hosts (a changed key is always refused)',
    })
    .option('parallel', { type: 'number', default: 10, describe: 'Hosts worked on at once' })
    .option('stats', { type: 'boolean', default: false, describe: 'Print per host: connections, remote commands, bytes, seconds' }) as Argv<T & RemoteOptions>;
}

export function connectSettings(args: RemoteOptions & GlobalOptions): ConnectSettings {
  return { acceptNewHostKeys: args['accept-new-host-keys'], ...(args.verbose ? { logger: verboseLogger() } : {}) };
}

function kib(bytes: number): string {
  return bytes < 10 * 1024 ? `${bytes} B` : `${(bytes / 1024).toFixed(1)} KiB`;
}

export function formatStats(stats: ConnectionStats[]): string {
  const rows = stats.map((s) => [s.host, String(s.connections), String(s.commands), kib(s.bytesSent), kib(s.bytesReceived), s.seconds.toFixed(2)]);
  return formatTable(['Host', 'Connections', 'Commands', 'Sent', 'Received', 'Seconds'], rows);
}
