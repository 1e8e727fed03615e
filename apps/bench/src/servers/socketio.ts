/**
 * Socket.IO 4 over WebSocket only. `echo` answers an `emitWithAck`; a socket connecting with
 * `auth.room` joins that room, and `publish` (with an ack) broadcasts one event to the room.
 * The auth middleware keeps the user id of `auth.token`, as an authenticated session would.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from 'socket.io';
import { userOfToken } from '../shared.ts';
import { ready } from './control.ts';

const http = createServer();
const io = new Server(http, { transports: ['websocket'], serveClient: false, perMessageDeflate: false, maxHttpBufferSize: 64 * 1024 });
io.use((socket, next) => {
  const auth = socket.handshake.auth as { token?: string; room?: string };
  const userId = auth.token === undefined ? null : userOfToken(auth.token);
  if (userId === null) return next(new Error('invalid token'));
  socket.data.userId = userId;
  if (auth.room !== undefined) void socket.join(auth.room);
  next();
});
io.on('connection', (socket) => {
  socket.on('echo', (body: unknown, ack: (body: unknown) => void) => ack(body));
  socket.on('publish', (body: unknown, ack: (body: unknown) => void) => {
    io.to('ticker').emit('tick', body);
    ack({});
  });
});
http.listen(0, '127.0.0.1', () => ready((http.address() as AddressInfo).port));
