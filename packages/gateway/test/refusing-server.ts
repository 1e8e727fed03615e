/**
 * A backend that refuses every upgrade over HTTP, as a node behind another proxy, or a
 * non-Herald server, would: the status named by `Authorization: Bearer status-NNN` (429 without
 * one), a JSON body, `Retry-After`. Its `/readyz` answers 200, so the gateway routes to it.
 */
import { createServer, STATUS_CODES, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RefusingServer {
  readonly url: string;
  close(): Promise<void>;
}

export async function startRefusingServer(): Promise<RefusingServer> {
  const server: Server = createServer((request, response) => {
    response.writeHead(request.url === '/readyz' ? 200 : 404, { 'content-type': 'application/json' }).end('{}');
  });
  server.on('upgrade', (request, socket) => {
    const status = Number(/status-(\d{3})/.exec(request.headers.authorization ?? '')?.[1] ?? 429);
    const body = JSON.stringify({ error: 'refused_here', message: `refused with ${status} by the backend`, retryAfterMs: 2000 });
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: application/json\r\nretry-after: 2\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}/ws`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
