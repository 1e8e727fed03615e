/**
 * Raw uWebSockets.js, no framework: `echo` sends every frame back (the transport ceiling);
 * `json` answers each request with JSON.parse + JSON.stringify of a response envelope carrying
 * its reqId (the codec ceiling). `/sub` sockets join the `ticker` topic and a message on
 * `/ctl` publishes one frame to it (the raw fan-out). Upgrades with `Authorization: Bearer u<n>`
 * keep the user id on the socket, as an authenticated session would.
 */
import { STATUS_CODES } from 'node:http';
import { loadUws } from '@herald/uws';
import type { WebSocket } from 'uWebSockets.js';
import { userOfToken } from '../shared.ts';
import { ready } from './control.ts';

const mode = process.argv[2] === 'json' ? 'json' : 'echo';
const uws = loadUws();
const app = uws.App();
const decoder = new TextDecoder();

interface UserData {
  readonly userId: string | null;
  readonly path: string;
}

app.ws<UserData>('/*', {
  compression: uws.DISABLED,
  maxPayloadLength: 64 * 1024,
  maxBackpressure: 4 * 1024 * 1024,
  idleTimeout: 120,
  upgrade: (res, req, context) => {
    const auth = req.getHeader('authorization');
    const token = auth.startsWith('Bearer ') ? auth.slice(7) : '';
    const userId = token === '' ? null : userOfToken(token);
    if (token !== '' && userId === null) {
      res.writeStatus(`401 ${STATUS_CODES[401]}`).end('', true);
      return;
    }
    res.upgrade<UserData>(
      { userId, path: req.getUrl() },
      req.getHeader('sec-websocket-key'),
      req.getHeader('sec-websocket-protocol'),
      req.getHeader('sec-websocket-extensions'),
      context,
    );
  },
  open: (ws: WebSocket<UserData>) => {
    if (ws.getUserData().path === '/sub') ws.subscribe('ticker');
  },
  message: (ws: WebSocket<UserData>, message: ArrayBuffer, isBinary: boolean) => {
    if (ws.getUserData().path === '/ctl') {
      const request = JSON.parse(decoder.decode(message)) as { id: string; type: string; body: unknown };
      app.publish('ticker', '{"kind":"notification","type":"bench.Tick","topic":"ticker","offset":1,"body":' + JSON.stringify(request.body) + '}', false);
      ws.send(JSON.stringify({ kind: 'resp', reqId: request.id, type: request.type, code: 200, body: {} }), false);
      return;
    }
    if (mode === 'echo') {
      ws.send(message, isBinary);
      return;
    }
    const request = JSON.parse(decoder.decode(message)) as { id: string; type: string; body: unknown };
    ws.send(JSON.stringify({ kind: 'resp', reqId: request.id, type: request.type, code: 200, body: request.body }), false);
  },
});

app.listen('127.0.0.1', 0, (socket) => {
  if (socket === false) throw new Error('cannot listen');
  ready(uws.us_socket_local_port(socket));
});
