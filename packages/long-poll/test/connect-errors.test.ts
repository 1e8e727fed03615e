/**
 * The long-poll transport, alone and behind `autoTransport`, tells a client that never connected
 * why, with the causes a WebSocket gives: at once (the client stops) for a mistake no retry can
 * fix (a wrong path, a rejected `Authorization`, a foreign Origin, no subprotocol, a bad URL),
 * within `connectTimeoutMs` for one that may pass (nothing listening, nothing answering), while
 * it keeps trying. A real uWS server on loopback: WebSocket on /ws, long-poll on /lp, 403 on
 * /private, 404 everywhere else.
 */
import { createServer as createTcpServer, type Socket } from 'node:net';
import { autoTransport, createClient, HeraldRequestError, LongPollWebSocket, longPollTransport, type ClientOptions, type HeraldClient } from '@herald/client';
import { createHerald, defineContract } from '@herald/core';
import { connect } from '@herald/testing';
import { freePort } from '@herald/testing/node';
import { attachHttp, loadUws, serveHerald } from '@herald/uws';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { z } from 'zod';
import { createLongPollHandler } from '../src/index.ts';

const contract = defineContract({
  requests: { 'test.Echo': { request: z.object({ text: z.string() }), response: z.object({ text: z.string() }) } },
  notifications: {},
});
type Contract = typeof contract;

/** Long enough that a request rejected with a connect failure was not rejected by its own timeout. */
const REQUEST_TIMEOUT_MS = 60_000;

const clients: HeraldClient<Contract>[] = [];
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function client(options: Partial<ClientOptions>): HeraldClient<Contract> {
  const created = createClient<Contract>({ token: 'ann', reconnectDelayMs: 50, maxReconnectDelayMs: 500, onError: () => {}, ...options });
  clients.push(created);
  return created;
}

async function server(port = 0): Promise<{ readonly http: string; readonly ws: string }> {
  const herald = createHerald({
    contract,
    upgradeRateLimit: false,
    authenticate: (token) => (/^[a-z]+$/.test(token) ? { userId: token } : null),
    onError: () => {},
    handlers: { 'test.Echo': ({ text }) => ({ text }) },
  });
  const uws = loadUws();
  const app = uws.App();
  const longPoll = createLongPollHandler(herald, { pollTimeoutMs: 1000 });
  for (const pattern of ['/lp', '/lp/*']) attachHttp(app, pattern, longPoll.handle);
  app.any('/private', (res) => void res.writeStatus('403 Forbidden').writeHeader('content-type', 'application/json').end('{"error":"forbidden","message":"members only"}'));
  app.any('/*', (res) => void res.writeStatus('404 Not Found').writeHeader('content-type', 'application/json').end('{"error":"not_found","message":"no such page"}'));
  const running = await serveHerald(herald, { app, port, host: '127.0.0.1', drainMs: 0 });
  cleanups.push(async () => {
    await running.close();
    await herald.close();
    await longPoll.close();
  });
  return { http: `http://127.0.0.1:${running.port}`, ws: `ws://127.0.0.1:${running.port}` };
}

/** The request's rejection: a HeraldRequestError. */
async function failure(promise: Promise<unknown>): Promise<HeraldRequestError> {
  const error = await promise.then(
    () => new Error('the request succeeded'),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(HeraldRequestError);
  return error as HeraldRequestError;
}

const echo = (target: HeraldClient<Contract>, text = 'x') => target.request('test.Echo', { text }, { timeoutMs: REQUEST_TIMEOUT_MS });

/** A stopped client rejects every later request with the same cause, at once. */
async function expectStopped(target: HeraldClient<Contract>, reason: string): Promise<void> {
  expect(target.state).toBe('closed');
  expect(await failure(echo(target))).toMatchObject({ reason });
}

/** A TCP listener that accepts and never answers. */
async function silentListener(): Promise<number> {
  const sockets: Socket[] = [];
  const silent = createTcpServer((socket) => void sockets.push(socket));
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => {
    for (const socket of sockets) socket.destroy();
    silent.close();
  });
  return (silent.address() as { port: number }).port;
}

describe('longPollTransport: refusals no retry can fix stop the client at once', () => {
  it('a wrong path (404 at the open)', async () => {
    const { http } = await server();
    const errors: unknown[] = [];
    const wrong = client({ transport: longPollTransport({ url: `${http}/poll` }), onError: (error) => errors.push(error) });
    const error = await failure(echo(wrong));
    expect(error).toMatchObject({ code: 404, reason: 'not_found', closeCode: 4404, retry: 'fatal' });
    expect(error.message).toContain(`${http}/poll answered 404 Not Found`);
    expect(errors).toEqual([error]);
    await expectStopped(wrong, 'not_found');
    expect(await echo(client({ transport: longPollTransport({ url: `${http}/lp` }) }), 'ok')).toEqual({ text: 'ok' });
  });

  it('a rejected `Authorization` header (401)', async () => {
    const { http } = await server();
    const rejected = client({ transport: longPollTransport({ url: `${http}/lp`, headers: { authorization: 'Bearer NOBODY' } }) });
    const error = await failure(echo(rejected));
    expect(error).toMatchObject({ code: 401, reason: 'invalid_token', closeCode: 4401, retry: 'reauthenticate' });
    expect(error.message).toContain('`Authorization` header');
    await expectStopped(rejected, 'invalid_token');
  });

  it('a foreign Origin (403 from Herald), and a 403 from something in front', async () => {
    const { http } = await server();
    for (const transport of [longPollTransport({ url: `${http}/lp`, headers: { origin: 'https://evil.example' } }), longPollTransport({ url: `${http}/private` })]) {
      const refused = client({ transport });
      expect(await failure(echo(refused))).toMatchObject({ code: 403, reason: 'forbidden', closeCode: 4403, retry: 'fatal' });
      await expectStopped(refused, 'forbidden');
    }
  });

  it('an open that offers no subprotocol (406)', async () => {
    const { http } = await server();
    const bare = client({ transport: longPollTransport({ url: `${http}/lp`, protocol: '' }) });
    const error = await failure(echo(bare));
    expect(error).toMatchObject({ code: 406, reason: 'unsupported_subprotocol', closeCode: 4406, retry: 'fatal' });
    expect(error.message).toContain('herald.v1');
    await expectStopped(bare, 'unsupported_subprotocol');
  });

  it.each([
    ['no scheme', 'localhost:9090/lp', 'it has no scheme'],
    ['an unparseable URL', '127.0.0.1:9090/lp', 'it does not parse as a URL'],
    ['a WebSocket scheme', 'ws://127.0.0.1:9090/lp', 'its scheme is ws:'],
  ])('a bad URL: %s', async (_, url, why) => {
    const states: string[] = [];
    const bad = client({ transport: longPollTransport({ url }), onStateChange: (state) => states.push(state) });
    const error = await failure(echo(bad));
    expect(error).toMatchObject({ code: 0, reason: 'invalid_url', closeCode: undefined, retry: 'fatal' });
    expect(error.message).toBe(`invalid long-poll URL ${JSON.stringify(url)}: ${why}; write http://host:port/lp (https:// over TLS)`);
    expect(states).toEqual(['closed']);
  });

  it('LongPollWebSocket (the tester, the conformance suite) reports the same cause', async () => {
    const { http } = await server();
    await expect(connect(`${http}/poll`, { WebSocket: LongPollWebSocket, token: 'ann', timeoutMs: REQUEST_TIMEOUT_MS })).rejects.toThrow(
      `connect ${http}/poll: ${http}/poll answered 404 Not Found`,
    );
    const port = await freePort();
    await expect(connect(`http://127.0.0.1:${port}/lp`, { WebSocket: LongPollWebSocket, token: 'ann', timeoutMs: REQUEST_TIMEOUT_MS })).rejects.toThrow(
      `could not connect to http://127.0.0.1:${port}/lp (fetch failed: ECONNREFUSED)`,
    );
  });
});

describe('longPollTransport: failures that may pass, within connectTimeoutMs, while the client keeps trying', () => {
  it('nothing listening: connection_refused, and a server that comes up later serves new requests', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}/lp`;
    const early = client({ transport: longPollTransport({ url }) });
    const error = await failure(echo(early));
    expect(error).toMatchObject({ code: 0, reason: 'connection_refused', closeCode: 1006, retry: 'resume' });
    expect(error.message).toContain(`could not connect to ${url} (fetch failed: ECONNREFUSED)`);
    expect(early.state).not.toBe('closed');
    await server(port);
    expect(await echo(early, 'later')).toEqual({ text: 'later' });
  }, 2 * REQUEST_TIMEOUT_MS);

  it('nothing answering (a listener that never speaks): connect_timeout, after connectTimeoutMs', async () => {
    const url = `http://127.0.0.1:${await silentListener()}/lp`;
    const started = Date.now();
    const error = await failure(echo(client({ transport: longPollTransport({ url }), connectTimeoutMs: 500 })));
    expect(error).toMatchObject({ code: 0, reason: 'connect_timeout', retry: 'resume' });
    expect(error.message).toBe('no answer from the server within 500 ms: the server is not answering, or is not a Herald server; the client keeps retrying');
    expect(Date.now() - started).toBeGreaterThanOrEqual(500);
  });
});

describe('autoTransport: the same causes', () => {
  it('a bad WebSocket URL: invalid_url at once, without falling back', async () => {
    const states: string[] = [];
    const bad = client({ transport: autoTransport({ url: '127.0.0.1:9090/ws', WebSocket }), onStateChange: (state) => states.push(state) });
    const error = await failure(echo(bad));
    expect(error).toMatchObject({ reason: 'invalid_url', retry: 'fatal' });
    expect(error.message).toBe('invalid WebSocket URL "127.0.0.1:9090/ws": it does not parse as a URL; write ws://host:port/path (wss:// over TLS)');
    expect(states).toEqual(['closed']);
  });

  it('a wrong path at both: the WebSocket 404 moves on to long-poll, whose 404 stops the client', async () => {
    const { ws, http } = await server();
    const kinds: string[] = [];
    const wrong = client({ transport: autoTransport({ url: `${ws}/socket`, longPollUrl: `${http}/poll`, WebSocket, onTransport: (kind) => kinds.push(kind) }) });
    const error = await failure(echo(wrong));
    expect(error).toMatchObject({ code: 404, reason: 'not_found', closeCode: 4404, retry: 'fatal' });
    expect(error.message).toContain(`${http}/poll answered 404 Not Found`);
    expect(kinds).toEqual(['websocket', 'long-poll']);
    await expectStopped(wrong, 'not_found');
  });

  it('a wrong WebSocket path with a working long-poll endpoint: served over long-poll', async () => {
    const { ws } = await server();
    const kinds: string[] = [];
    const fallback = client({ transport: autoTransport({ url: `${ws}/socket`, WebSocket, onTransport: (kind) => kinds.push(kind) }) });
    expect(await echo(fallback, 'ok')).toEqual({ text: 'ok' });
    expect(kinds).toEqual(['websocket', 'long-poll']);
  });

  it('a rejected `Authorization` header at both (401)', async () => {
    const { ws } = await server();
    const rejected = client({ transport: autoTransport({ url: `${ws}/ws`, WebSocket, headers: { authorization: 'Bearer NOBODY' } }) });
    expect(await failure(echo(rejected))).toMatchObject({ code: 401, reason: 'invalid_token', closeCode: 4401, retry: 'reauthenticate' });
    await expectStopped(rejected, 'invalid_token');
  });

  it('no WebSocket implementation (Node 20): served over long-poll', async () => {
    expect((globalThis as { WebSocket?: unknown }).WebSocket).toBeUndefined();
    const { ws } = await server();
    const kinds: string[] = [];
    expect(await echo(client({ transport: autoTransport({ url: `${ws}/ws`, onTransport: (kind) => kinds.push(kind) }) }), 'ok')).toEqual({ text: 'ok' });
    expect(kinds).toEqual(['websocket', 'long-poll']);
  });

  it('nothing listening: connection_refused while it keeps trying both, and a server that comes up later serves', async () => {
    const port = await freePort();
    const early = client({ transport: autoTransport({ url: `ws://127.0.0.1:${port}/ws`, WebSocket }) });
    const error = await failure(echo(early));
    expect(error).toMatchObject({ code: 0, reason: 'connection_refused', closeCode: 1006, retry: 'resume' });
    expect(error.message).toMatch(new RegExp(`could not connect to (ws://127\\.0\\.0\\.1:${port}/ws|http://127\\.0\\.0\\.1:${port}/lp)`));
    expect(early.state).not.toBe('closed');
    await server(port);
    expect(await echo(early, 'later')).toEqual({ text: 'later' });
  }, 2 * REQUEST_TIMEOUT_MS);
});
