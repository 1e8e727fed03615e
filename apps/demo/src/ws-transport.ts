/**
 * A minimal bridge from Node's `ws` to @herald/core, enough to run the demo until the
 * uWebSockets.js adapter (@herald/uws) takes over. It shows the whole adapter contract:
 * decide the upgrade, answer native refusals over HTTP, hand sockets to the core.
 */
import { STATUS_CODES, type IncomingMessage, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { type Herald, type HeraldSocket, type UpgradeRejected } from '@herald/core';
import { WebSocketServer, type WebSocket } from 'ws';

function headersOf(request: IncomingMessage): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(request.headers)) {
    if (typeof value === 'string') headers.set(name, value);
    else if (Array.isArray(value)) headers.set(name, value.join(', '));
  }
  return headers;
}

function refuseOverHttp(socket: Duplex, rejected: UpgradeRejected): void {
  const body = JSON.stringify(rejected.body);
  const extra = Object.entries(rejected.headers).map(([name, value]) => `${name}: ${value}\r\n`).join('');
  socket.end(
    `HTTP/1.1 ${rejected.status} ${STATUS_CODES[rejected.status] ?? 'Refused'}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
      `Connection: close\r\n${extra}\r\n${body}`,
  );
}

function wrap(ws: WebSocket): HeraldSocket {
  return {
    send: (frame) => ws.readyState === ws.OPEN && ws.send(frame),
    close: (code, reason) => ws.close(code, reason),
    get bufferedAmount() {
      return ws.bufferedAmount;
    },
  };
}

/** Serves Herald on `path` of an existing HTTP server. */
export function attachWs(server: Server, herald: Herald<any>, path = '/ws'): WebSocketServer {
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: herald.limits.maxMessageBytes * 4,
    handleProtocols: (offered) => (offered.has('herald.v1') ? 'herald.v1' : ([...offered][0] ?? false)),
  });
  server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (new URL(request.url ?? '/', 'http://localhost').pathname !== path) {
      socket.destroy();
      return;
    }
    const remoteAddress = request.socket.remoteAddress;
    const upgrade = { url: request.url ?? path, headers: headersOf(request), ...(remoteAddress === undefined ? {} : { remoteAddress }) };
    herald.upgrade(upgrade).then(
      (decision) => {
        if (!decision.ok && decision.client === 'native') return refuseOverHttp(socket, decision);
        wss.handleUpgrade(request, socket, head, (ws) => {
          if (!decision.ok) return herald.reject(wrap(ws), decision);
          const connection = herald.open(wrap(ws), decision);
          ws.on('message', (data, isBinary) => connection.receive(isBinary ? new Uint8Array(data as Buffer) : String(data)));
          ws.on('close', (code) => connection.closed(code));
          ws.on('pong', () => connection.alive());
        });
      },
      () => socket.destroy(),
    );
  });
  return wss;
}
