/**
 * The backend leg against a real WebSocket server (`ws`'s, which can fragment and misbehave on
 * request): frames of every length class both ways, fragmented messages, ping and pong, both
 * closing handshakes, refusals with their body, and the answers it must not accept.
 */
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { BackendLeg, dialLeg, LegState, NO_LISTENER, type LegListener } from './backend-leg.ts';

let http: Server;
let wss: WebSocketServer;
let url: string;
const connected: WebSocket[] = [];
let lastHeaders: Record<string, unknown> = {};
/** Every upgraded connection, ended after the tests (an HTTP server does not track them). */
const sockets: Socket[] = [];
/** Raw answers for paths under /raw/: the test writes the bytes itself. */
const raw = new Map<string, (socket: Socket, key: string) => void>();

beforeAll(async () => {
  http = createServer((_, response) => response.writeHead(404).end());
  wss = new WebSocketServer({ noServer: true, maxPayload: 1 << 24, handleProtocols: (protocols) => (protocols.has('herald.v1') ? 'herald.v1' : false) });
  http.on('upgrade', (request, socket, head) => {
    sockets.push(socket as Socket);
    const answer = raw.get(request.url ?? '');
    if (answer !== undefined) return answer(socket as Socket, String(request.headers['sec-websocket-key']));
    if (request.url === '/refuse') {
      const body = JSON.stringify({ error: 'invalid_token', message: 'invalid token' });
      return socket.end(`HTTP/1.1 401 Unauthorized\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\nretry-after: 3\r\n\r\n${body}`);
    }
    lastHeaders = request.headers;
    wss.handleUpgrade(request, socket, head, (ws) => {
      connected.push(ws);
      ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  url = `ws://127.0.0.1:${(http.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const ws of wss.clients) ws.terminate();
  wss.close();
  for (const socket of sockets) socket.destroy();
  await new Promise((resolve) => http.close(resolve));
});

/** A valid 101 answer's head, less its final blank line. */
function switching(key: string): string {
  const accept = createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
  return `HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-accept: ${accept}\r\n`;
}

const options = { headers: { authorization: 'Bearer x' }, protocols: ['herald.v1'], timeoutMs: 5000, maxPayload: 1 << 24 };

async function open(path = '/ws'): Promise<BackendLeg> {
  const dialed = await dialLeg(`${url}${path}`, options);
  if (dialed.kind !== 'open') throw new Error(`not open: ${JSON.stringify(dialed)}`);
  dialed.leg.feed(dialed.early);
  return dialed.leg;
}

/** Hears the leg until its next event of one kind, then no more. */
function once<T>(leg: BackendLeg, hear: (resolve: (value: T) => void) => Partial<LegListener>): Promise<T> {
  return new Promise((resolve) => {
    leg.listener = { ...NO_LISTENER, ...hear((value) => ((leg.listener = NO_LISTENER), resolve(value))) };
  });
}

function next(leg: BackendLeg): Promise<{ data: Buffer; binary: boolean }> {
  return once(leg, (resolve) => ({ legMessage: (_leg, data, binary) => resolve({ data: Buffer.from(data), binary }) }));
}

function closed(leg: BackendLeg): Promise<{ code: number; reason: string }> {
  return once(leg, (resolve) => ({ legClosed: (_leg, code, reason) => resolve({ code, reason }) }));
}

describe('backend leg', () => {
  it('opens with the subprotocol the node selected and sends the headers given', async () => {
    const leg = await open();
    expect(leg.protocol).toBe('herald.v1');
    expect(leg.readyState).toBe(LegState.Open);
    expect(lastHeaders).toMatchObject({ authorization: 'Bearer x', 'sec-websocket-protocol': 'herald.v1', host: url.slice('ws://'.length) });
    leg.close(1000, 'done');
  });

  it('sends and reads frames of every length class, text and binary, in order', async () => {
    const leg = await open();
    for (const size of [0, 1, 125, 126, 65535, 65536, 300_000]) {
      const text = 'é'.repeat(Math.floor(size / 2)) + (size % 2 === 1 ? 'x' : '');
      const echoed = next(leg);
      leg.send(text);
      expect((await echoed).data.toString()).toBe(text);
      const bytes = Buffer.alloc(size, 7);
      const binary = next(leg);
      leg.send(bytes, true);
      expect(await binary).toEqual({ data: bytes, binary: true });
    }
    leg.close();
  });

  it('reads a fragmented message whole, and answers a ping with a pong', async () => {
    const leg = await open();
    const server = connected.at(-1) as WebSocket;
    const whole = next(leg);
    server.send('frag', { fin: false });
    server.send('ment', { fin: false });
    server.send('ed', { fin: true });
    expect((await whole).data.toString()).toBe('fragmented');
    const pong = new Promise((resolve) => server.once('pong', (data) => resolve(String(data))));
    server.ping('are you there');
    expect(await pong).toBe('are you there');
    const ours = once(leg, (resolve) => ({ legPong: () => resolve(undefined) }));
    leg.ping();
    await ours;
    leg.close();
  });

  it('closes with the code and reason either side chose', async () => {
    const ours = await open();
    const server = connected.at(-1) as WebSocket;
    const seen = new Promise((resolve) => server.once('close', (code, reason) => resolve({ code, reason: String(reason) })));
    ours.close(4499, 'client lost');
    expect(await seen).toEqual({ code: 4499, reason: 'client lost' });

    const theirs = await open();
    const ended = closed(theirs);
    (connected.at(-1) as WebSocket).close(4503, 'server shutting down');
    expect(await ended).toEqual({ code: 4503, reason: 'server shutting down' });
    expect(theirs.readyState).toBe(LegState.Closed);
  });

  it('reports a connection that ends without a close frame as 1006', async () => {
    const leg = await open();
    const ended = closed(leg);
    (connected.at(-1) as WebSocket).terminate();
    expect((await ended).code).toBe(1006);
  });

  it("hands a refusal over as the node's status, headers and body", async () => {
    expect(await dialLeg(`${url}/refuse`, options)).toEqual({
      kind: 'refused',
      status: 401,
      headers: expect.objectContaining({ 'retry-after': '3', 'content-type': 'application/json' }),
      body: '{"error":"invalid_token","message":"invalid token"}',
    });
  });

  it('refuses an answer with the wrong Sec-WebSocket-Accept, or a subprotocol not offered', async () => {
    raw.set('/bad-accept', (socket) => socket.write('HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-accept: nope\r\n\r\n'));
    expect(await dialLeg(`${url}/bad-accept`, options)).toEqual({ kind: 'failed', error: 'wrong Sec-WebSocket-Accept' });
    raw.set('/other-protocol', (socket, key) => socket.write(`${switching(key)}sec-websocket-protocol: graphql-ws\r\n\r\n`));
    expect(await dialLeg(`${url}/other-protocol`, options)).toMatchObject({ kind: 'failed', error: expect.stringContaining('not offered') });
  });

  it('fails a dial that gets no answer within the timeout, and one to nothing listening', async () => {
    raw.set('/silent', () => {});
    expect(await dialLeg(`${url}/silent`, { ...options, timeoutMs: 200 })).toEqual({ kind: 'failed', error: 'no handshake within 200 ms' });
    expect(await dialLeg('ws://127.0.0.1:1/ws', options)).toMatchObject({ kind: 'failed' });
  });

  it('closes with 1009 on a frame over maxPayload, and with 1002 on a masked one', async () => {
    const dialed = await dialLeg(`${url}/ws`, { ...options, maxPayload: 1000 });
    if (dialed.kind !== 'open') throw new Error('not open');
    const small = dialed.leg;
    const tooLarge = closed(small);
    small.send('x'.repeat(2000));
    expect(await tooLarge).toEqual({ code: 1009, reason: 'frame too large' });

    // A server must not mask (RFC 6455 §5.1): one byte 'x' masked with 1, 2, 3, 4.
    raw.set('/masked', (socket, key) => socket.write(Buffer.concat([Buffer.from(`${switching(key)}\r\n`), Buffer.from([0x81, 0x81, 1, 2, 3, 4, 0x78 ^ 1])])));
    const dialedMasked = await dialLeg(`${url}/masked`, { ...options, protocols: [] });
    if (dialedMasked.kind !== 'open') throw new Error('not open');
    const masked = closed(dialedMasked.leg);
    dialedMasked.leg.feed(dialedMasked.early);
    expect(await masked).toEqual({ code: 1002, reason: 'masked frame from the server' });
  });
});
