/** Bare JSON request/response on the `ws` package (Node's http server), no framework. */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { ready } from './control.ts';

const server = createServer();
const wss = new WebSocketServer({ server, perMessageDeflate: false, maxPayload: 64 * 1024 });
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => {
    if (isBinary) return;
    const request = JSON.parse(String(data)) as { id: string; type: string; body: unknown };
    ws.send(JSON.stringify({ kind: 'resp', reqId: request.id, type: request.type, code: 200, body: request.body }));
  });
});
server.listen(0, '127.0.0.1', () => ready((server.address() as AddressInfo).port));
