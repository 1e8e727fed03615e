/** The demo over real sockets on loopback: a real `ws` server and real `ws` clients. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Herald } from '@herald/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createChat } from '../src/app.ts';
import { attachWs } from '../src/ws-transport.ts';

let server: Server;
let herald: Herald<any>;
let url: string;

beforeAll(async () => {
  herald = createChat();
  server = createServer();
  attachWs(server, herald);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/ws`;
});

afterAll(async () => {
  await herald.close();
  await new Promise((resolve) => server.close(resolve));
});

/** A client that records every frame and can wait for one. */
async function connect(options: { protocol?: string; headers?: Record<string, string> } = {}) {
  const ws = new WebSocket(url, options.protocol ?? 'herald.v1', { headers: options.headers ?? {} });
  const frames: any[] = [];
  const waiters: Array<() => void> = [];
  ws.on('message', (data) => {
    frames.push(JSON.parse(String(data)));
    waiters.splice(0).forEach((wake) => wake());
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: String(reason) })));
  await new Promise((resolve, reject) => {
    ws.on('open', resolve);
    ws.on('error', reject);
  });
  const waitFor = async (match: (frame: any) => boolean) => {
    for (;;) {
      const found = frames.find(match);
      if (found !== undefined) return found;
      await new Promise<void>((resolve) => waiters.push(resolve));
    }
  };
  let next = 0;
  const request = async (type: string, body?: unknown) => {
    const id = `r${++next}`;
    ws.send(JSON.stringify({ kind: 'req', id, type, body }));
    return waitFor((f) => f.kind === 'resp' && f.reqId === id);
  };
  return { ws, frames, closed, waitFor, request };
}

describe('demo over real sockets', () => {
  it('authenticates in session, joins, publishes to every subscriber and whispers privately', async () => {
    const alice = await connect();
    const bob = await connect();
    expect((await alice.request('herald.Authenticate', { token: 'demo-alice' })).code).toBe(200);
    expect((await bob.request('herald.Authenticate', { token: 'demo-bob' })).code).toBe(200);
    await alice.request('chat.Join', { room: 'e2e' });
    await bob.request('chat.Join', { room: 'e2e' });
    expect((await bob.request('chat.Send', { room: 'e2e', text: 'hi' })).body).toEqual({ offset: 1 });
    const message = await alice.waitFor((f) => f.type === 'chat.Message');
    expect(message).toMatchObject({ topic: 'room/e2e', offset: 1, body: { from: 'bob', text: 'hi' } });
    await bob.request('chat.Whisper', { to: 'alice', text: 'psst' });
    expect(await alice.waitFor((f) => f.type === 'chat.Whispered')).toMatchObject({ seq: 1, body: { from: 'bob' } });
    expect(bob.frames.some((f) => f.type === 'chat.Whispered')).toBe(false);
    alice.ws.close(1000);
    bob.ws.close(1000);
  });

  it('answers bad input and keeps the session', async () => {
    const client = await connect();
    await client.request('herald.Authenticate', { token: 'demo-carol' });
    client.ws.send('{not json');
    expect(await client.waitFor((f) => f.type === 'herald.Error')).toMatchObject({ body: { code: 400, error: 'invalid_json' } });
    expect((await client.request('chat.Send', { room: 'e2e', text: '' })).code).toBe(400);
    expect((await client.request('chat.Nope', {})).code).toBe(404);
    expect((await client.request('chat.Send', { room: 'e2e', text: 'still here' })).code).toBe(200);
    client.ws.close(1000);
  });

  it('refuses a native client without the subprotocol over HTTP with a JSON body', async () => {
    const ws = new WebSocket(url);
    const response = await new Promise<{ status: number; body: string }>((resolve) =>
      ws.on('unexpected-response', (_request, res) => {
        let body = '';
        res.on('data', (chunk) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      }),
    );
    expect(response.status).toBe(406);
    expect(JSON.parse(response.body)).toMatchObject({ error: 'unsupported_subprotocol' });
  });

  it('refuses a native client with a bad bearer token with 401', async () => {
    const ws = new WebSocket(url, 'herald.v1', { headers: { authorization: 'Bearer nope' } });
    const status = await new Promise<number>((resolve) => ws.on('unexpected-response', (_request, res) => resolve(res.statusCode ?? 0)));
    expect(status).toBe(401);
  });

  it('tells a browser from another origin with close code 4403 after the upgrade', async () => {
    const browser = await connect({ headers: { origin: 'https://evil.example' } });
    expect(await browser.closed).toEqual({ code: 4403, reason: 'origin https://evil.example is not allowed' });
    expect(browser.frames).toEqual([{ kind: 'notification', type: 'herald.Goodbye', body: { code: 4403, reason: 'origin https://evil.example is not allowed' } }]);
  });
});
