/**
 * A TCP relay that stands in for a load balancer or a proxy: every connection is forwarded to
 * a backend chosen per connection, and dies with it.
 */
import { connect, type Socket } from 'node:net';
import { listenTcp } from './tcp-listener.ts';

export interface RelayOptions {
  /** The port each new connection is forwarded to (read per connection, so it can change). */
  readonly backend: () => number;
  /** While it returns true, WebSocket upgrades are refused with 400, as by a proxy without Upgrade support. */
  readonly refuseUpgrades?: () => boolean;
}

/** A running relay. */
export interface Relay {
  readonly port: number;
  close(): Promise<void>;
}

/**
 * Forwards every connection to the backend; when either side closes, so does the other (a
 * backend that dies takes its clients' connections with it, as behind a load balancer).
 *
 * @example
 * const relay = await startRelay({ backend: () => server.port });
 * const url = `ws://127.0.0.1:${relay.port}/ws`;
 */
export async function startRelay(options: RelayOptions): Promise<Relay> {
  const listener = await listenTcp((client: Socket) => {
    client.once('data', (first: Buffer) => {
      if (options.refuseUpgrades?.() === true && /^upgrade:\s*websocket/im.test(first.toString('latin1'))) {
        client.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
        return;
      }
      const upstream = connect(options.backend(), '127.0.0.1');
      upstream.write(first);
      client.pipe(upstream).pipe(client);
      const end = (): void => {
        client.destroy();
        upstream.destroy();
      };
      client.on('close', end).on('error', end);
      upstream.on('close', end).on('error', end);
    });
  });
  return { port: listener.port, close: listener.close };
}
