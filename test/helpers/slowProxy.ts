import { createServer, connect, type AddressInfo, type Socket } from 'node:net';

/**
 * How the proxy treats traffic: `pass` forwards at once; `delay` holds every chunk, both ways,
 * for `ms` (a slow or far-away Temporal); `stall` keeps connections open and forwards nothing
 * (a Temporal that accepted the TCP connection and then hangs).
 */
export type ProxyMode = { kind: 'pass' } | { kind: 'delay'; ms: number } | { kind: 'stall' };

export interface SlowProxy {
  /** `host:port` to give a Temporal client instead of the server's own address. */
  address: string;
  setMode(mode: ProxyMode): void;
  close(): Promise<void>;
}

/**
 * A small TCP proxy in front of the test dev server that adds latency or stalls: real gRPC over
 * a real socket, slowed down, instead of a mocked client. Chunks held back in `stall` are
 * forwarded, in order, once the mode allows it again.
 */
export async function startSlowProxy(
  target: string,
  mode: ProxyMode = { kind: 'pass' },
): Promise<SlowProxy> {
  const [host, port] = splitAddress(target);
  let current = mode;
  const sockets = new Set<Socket>();
  const stalled: Array<() => void> = [];

  const forward = (from: Socket, to: Socket) => {
    // Each direction keeps its order: a chunk leaves only after the one before it.
    let previous = Promise.resolve();
    from.on('data', (chunk: Buffer) => {
      // Latency counts from the chunk's arrival, not from the chunk before it.
      const delay = current.kind === 'delay' ? wait(current.ms) : undefined;
      previous = previous
        .then(() => delay ?? hold())
        .then(() => {
          if (!to.destroyed) to.write(chunk);
        });
    });
    from.on('close', () => {
      void previous.then(() => to.destroy());
    });
    from.on('error', () => to.destroy());
  };

  const wait = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
  const hold = (): Promise<void> =>
    current.kind === 'stall' ? new Promise((resolve) => stalled.push(resolve)) : Promise.resolve();

  const server = createServer((client) => {
    const upstream = connect(port, host);
    sockets.add(client).add(upstream);
    client.on('close', () => sockets.delete(client));
    upstream.on('close', () => sockets.delete(upstream));
    forward(client, upstream);
    forward(upstream, client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port: proxyPort } = server.address() as AddressInfo;

  return {
    address: `127.0.0.1:${proxyPort}`,
    setMode(next) {
      current = next;
      if (next.kind !== 'stall') for (const release of stalled.splice(0)) release();
    },
    async close() {
      for (const release of stalled.splice(0)) release();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function splitAddress(address: string): [string, number] {
  const index = address.lastIndexOf(':');
  return [address.slice(0, index), Number(address.slice(index + 1))];
}
