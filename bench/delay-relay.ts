/**
 * A TCP relay that delays every chunk by `delayMs` in each direction, so a connection through it sees
 * about 2×delayMs of extra round-trip time. This machine's kernel has no netem; benchmarks put this
 * between man8s and the sandbox hosts to measure behaviour over a slow link.
 *
 *   startDelayRelay({ target: { host: '10.213.0.11', port: 22 }, delayMs: 25 }) → { port, close }
 *
 * Only ever pointed at sandbox hosts (addresses inside namespaces this machine created).
 */
import { createServer, connect, type Socket } from 'node:net';

/** What went through a relay: TCP connections accepted and bytes each way (ssh's encrypted stream). */
export interface RelayCounts {
  connections: number;
  bytesToHost: number;
  bytesFromHost: number;
}

export interface DelayRelay {
  port: number;
  /** Counts since the relay started (subtract two readings to measure one step). */
  counts(): RelayCounts;
  close(): Promise<void>;
}

export async function startDelayRelay(opts: { target: { host: string; port: number }; delayMs: number; listenHost?: string }): Promise<DelayRelay> {
  const sockets = new Set<Socket>();
  const counted: RelayCounts = { connections: 0, bytesToHost: 0, bytesFromHost: 0 };
  const pipeDelayed = (from: Socket, to: Socket, key: 'bytesToHost' | 'bytesFromHost'): void => {
    // Timers with the same delay fire in the order they were set, so chunk order is kept.
    from.on('data', (chunk) => {
      counted[key] += chunk.length;
      setTimeout(() => to.writable && to.write(chunk), opts.delayMs);
    });
    from.on('end', () => setTimeout(() => to.end(), opts.delayMs));
    from.on('error', () => to.destroy());
  };
  const server = createServer((client) => {
    counted.connections++;
    const upstream = connect(opts.target.port, opts.target.host);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    }
    pipeDelayed(client, upstream, 'bytesToHost');
    pipeDelayed(upstream, client, 'bytesFromHost');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, opts.listenHost ?? '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('relay: no port');
  return {
    port: address.port,
    counts: () => ({ ...counted }),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
