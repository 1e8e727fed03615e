/**
 * engine.io (Socket.IO's transport layer) with the polling transport only: each message is a
 * request envelope, answered like the codec ceiling (JSON.parse + JSON.stringify with reqId).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { attach } from 'engine.io';
import { ready } from './control.ts';

const http = createServer();
const engine = attach(http, { transports: ['polling'], pingInterval: 25_000, pingTimeout: 20_000, maxHttpBufferSize: 1e6 });
engine.on('connection', (socket) => {
  socket.on('message', (data: string | Buffer) => {
    const request = JSON.parse(String(data)) as { id: string; type: string; body: unknown };
    socket.send(JSON.stringify({ kind: 'resp', reqId: request.id, type: request.type, code: 200, body: request.body }));
  });
});
http.listen(0, '127.0.0.1', () => ready((http.address() as AddressInfo).port));
