/**
 * The listening half every helper here shares: a TCP server bound to one address (loopback
 * unless told otherwise), with its port known once it listens.
 */
import { createServer, type Server, type Socket } from 'node:net';

export interface TcpListenerOptions {
  /** Default `127.0.0.1`. */
  readonly host?: string;
  /** Default 0: any free port. */
  readonly port?: number;
  /** Keep a socket writable after its peer's FIN, for proxies that pass half-closes on. */
  readonly allowHalfOpen?: boolean;
}

export interface TcpListener {
  readonly host: string;
  readonly port: number;
  /** Stops accepting; resolves once every accepted connection has closed too. */
  close(): Promise<void>;
}

export async function listenTcp(onConnection: (socket: Socket) => void, options: TcpListenerOptions = {}): Promise<TcpListener> {
  const host = options.host ?? '127.0.0.1';
  const server: Server = createServer({ allowHalfOpen: options.allowHalfOpen ?? false }, onConnection);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    host,
    port: (server.address() as { port: number }).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
