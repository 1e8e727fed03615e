/**
 * A client that never connected tells its requests why: at once for a mistake no retry can fix
 * (a wrong path, a rejected header, a server that does not speak herald.v1, a bad URL, no
 * WebSocket), within `connectTimeoutMs` for one that may pass (nothing listening, nothing
 * answering), while it keeps trying. Real servers on loopback throughout.
 */
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import { createHerald } from '@herald/core';
import { freePort } from '@herald/testing/node';
import { loadUws, serveHerald, type HeraldUwsServer } from '@herald/uws';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { createClient, HeraldRequestError, longPollTransport, type ClientOptions, type HeraldClient, type WebSocketLike } from '../src/index.ts';
import { contract, type TestContract } from './fixture.ts';

const clients: HeraldClient<TestContract>[] = [];
const cleanups: Array<() => Promise<void> | void> = [];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

function client(options: Partial<ClientOptions> & ({ url: string } | { transport: NonNullable<ClientOptions['transport']> })): HeraldClient<TestContract> {
  const created = createClient<TestContract>({ WebSocket, token: 'user:ann', reconnectDelayMs: 50, onError: () => {}, ...options });
  clients.push(created);
  return created;
}

/** Herald on `/ws`; `/private` answers 403, as a gateway in front would; every other path 404. */
async function heraldServer(port = 0): Promise<{ readonly origin: string; stop(): Promise<void> }> {
  const herald = createHerald({
    contract,
    upgradeRateLimit: false,
    authenticate: (token) => (token.startsWith('user:') ? { userId: token.slice(5) } : null),
    onError: () => {},
    handlers: {
      'test.Echo': ({ text }) => ({ text }),
      'test.Count': ({ key }) => ({ key, runs: 1 }),
      'test.Slow': ({ ms }) => ({ slept: ms }),
      'test.Forbidden': () => ({}),
      'test.Publish': () => ({ offset: 0 }),
      'test.Notify': () => ({ ok: true }),
      'test.Restart': () => ({ ok: true }),
    },
  });
  const app = loadUws().App();
  app.any('/private', (res) => void res.writeStatus('403 Forbidden').writeHeader('content-type', 'application/json').end('{"error":"forbidden","message":"members only"}'));
  app.any('/*', (res) => void res.writeStatus('404 Not Found').writeHeader('content-type', 'application/json').end('{"error":"not_found","message":"no such page"}'));
  const running: HeraldUwsServer = await serveHerald(herald, { app, port, host: '127.0.0.1', drainMs: 0 });
  const stop = async (): Promise<void> => {
    await running.close();
    await herald.close();
  };
  cleanups.push(stop);
  return { origin: `127.0.0.1:${running.port}`, stop };
}

/** Rejects with the request's error, and how long it took. */
async function failure(promise: Promise<unknown>): Promise<{ error: HeraldRequestError; ms: number }> {
  const started = Date.now();
  const error = await promise.then(
    () => {
      throw new Error('the request succeeded');
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(HeraldRequestError);
  return { error: error as HeraldRequestError, ms: Date.now() - started };
}

async function until(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(10);
  }
}

/**
 * `ws`, but with a browser's discretion: its error event says nothing, so the transport has to
 * find out over HTTP why the upgrade failed.
 */
class TightLippedWebSocket implements WebSocketLike {
  onopen: ((event: never) => void) | null = null;
  onmessage: ((event: never) => void) | null = null;
  onclose: ((event: never) => void) | null = null;
  onerror: ((event: never) => void) | null = null;
  protected readonly socket: WebSocket;
  constructor(url: string, protocols: string | string[] | undefined) {
    this.socket = protocols === undefined ? new WebSocket(url) : new WebSocket(url, protocols);
    this.socket.onopen = () => this.onopen?.({} as never);
    this.socket.onmessage = (event) => this.onmessage?.({ data: event.data } as never);
    this.socket.onclose = (event) => this.onclose?.({ code: event.code, reason: event.reason } as never);
    this.socket.onerror = () => this.onerror?.({} as never);
  }
  get protocol(): string {
    return this.socket.protocol;
  }
  send(data: string): void {
    this.socket.send(data);
  }
  close(code?: number, reason?: string): void {
    this.socket.close(code, reason);
  }
}

/** Opens whatever subprotocol the server selects, none included, as Deno's WebSocket does: the transport must check. */
class LaxWebSocket extends TightLippedWebSocket {
  constructor(url: string) {
    super(url, undefined);
  }
}

describe('refusals no retry can fix: at once, and the client stops', () => {
  it('a wrong path (404 at the upgrade)', async () => {
    const { origin } = await heraldServer();
    const errors: unknown[] = [];
    const wrong = client({ url: `ws://${origin}/socket`, onError: (error) => errors.push(error) });
    const { error } = await failure(wrong.request('test.Echo', { text: 'x' }));
    expect(error).toMatchObject({ code: 404, reason: 'not_found', closeCode: 4404, retry: 'fatal' });
    expect(error.message).toContain(`ws://${origin}/socket answered 404 Not Found`);
    expect(wrong.state).toBe('closed');
    expect(errors).toEqual([error]);
    // Later requests are told the same.
    await expect(wrong.request('test.Echo', { text: 'y' })).rejects.toMatchObject({ reason: 'not_found' });
    // The right path works.
    expect(await client({ url: `ws://${origin}/ws` }).request('test.Echo', { text: 'ok' })).toEqual({ text: 'ok' });
  });

  it('a wrong path, from a WebSocket that hides the status (as browsers do): found out over HTTP', async () => {
    const { origin } = await heraldServer();
    const wrong = client({ url: `ws://${origin}/socket`, WebSocket: TightLippedWebSocket });
    const { error } = await failure(wrong.request('test.Echo', { text: 'x' }));
    expect(error).toMatchObject({ code: 404, reason: 'not_found', retry: 'fatal' });
    // At the right path the same WebSocket works.
    expect(await client({ url: `ws://${origin}/ws`, WebSocket: TightLippedWebSocket }).request('test.Echo', { text: 'ok' })).toEqual({ text: 'ok' });
  });

  it('a credential in the upgrade headers that the server rejects (401)', async () => {
    const { origin } = await heraldServer();
    const rejected = client({ url: `ws://${origin}/ws`, headers: { authorization: 'Bearer nobody' } });
    const { error } = await failure(rejected.request('test.Echo', { text: 'x' }));
    expect(error).toMatchObject({ code: 401, reason: 'invalid_token', closeCode: 4401, retry: 'reauthenticate' });
    expect(error.message).toContain('`Authorization` header');
    expect(rejected.state).toBe('closed');
  });

  it('an upgrade answered 403', async () => {
    const { origin } = await heraldServer();
    const { error } = await failure(client({ url: `ws://${origin}/private` }).request('test.Echo', { text: 'x' }));
    expect(error).toMatchObject({ code: 403, reason: 'forbidden', closeCode: 4403, retry: 'fatal' });
  });

  it('a server that selects no subprotocol (not herald.v1)', async () => {
    const plain = new WebSocketServer({ port: 0, host: '127.0.0.1', handleProtocols: () => false });
    await new Promise((resolve) => plain.once('listening', resolve));
    cleanups.push(() => new Promise<void>((resolve) => plain.close(() => resolve())));
    const url = `ws://127.0.0.1:${(plain.address() as { port: number }).port}/`;
    // `ws` fails the upgrade itself; a WebSocket that opens anyway is closed by the transport.
    for (const WebSocketImpl of [WebSocket, LaxWebSocket]) {
      const { error } = await failure(client({ url, WebSocket: WebSocketImpl }).request('test.Echo', { text: 'x' }));
      expect(error).toMatchObject({ code: 406, reason: 'unsupported_subprotocol', closeCode: 4406, retry: 'fatal' });
      expect(error.message).toContain('herald.v1');
    }
  });

  it.each([
    ['no scheme', 'localhost:9090/ws', 'it has no scheme'],
    ['an unparseable URL', '127.0.0.1:9090/ws', 'it does not parse as a URL'],
    ['a wrong scheme', 'ftp://127.0.0.1:9090/ws', 'its scheme is ftp:'],
  ])('a bad URL: %s', async (_, url, why) => {
    const states: string[] = [];
    const bad = client({ url, onStateChange: (state) => states.push(state) });
    const { error } = await failure(bad.request('test.Echo', { text: 'x' }));
    expect(error).toMatchObject({ code: 0, reason: 'invalid_url', closeCode: undefined, retry: 'fatal' });
    expect(error.message).toBe(`invalid WebSocket URL ${JSON.stringify(url)}: ${why}; write ws://host:port/path (wss:// over TLS)`);
    expect(states).toEqual(['closed']);
  });

  it('no WebSocket implementation (Node 20 has no global WebSocket)', async () => {
    expect((globalThis as { WebSocket?: unknown }).WebSocket).toBeUndefined();
    const { origin } = await heraldServer();
    const bare = createClient<TestContract>({ url: `ws://${origin}/ws`, token: 'user:ann', onError: () => {} });
    clients.push(bare);
    const { error } = await failure(bare.request('test.Echo', { text: 'x' }));
    expect(error).toMatchObject({ code: 0, reason: 'no_websocket', retry: 'fatal' });
    expect(error.message).toContain("pass `WebSocket` from the 'ws' package in Node 20");
  });
});

describe('failures that may pass: within connectTimeoutMs, while the client keeps trying', () => {
  it('nothing listening: connection_refused, and a server that comes up later serves new requests', async () => {
    const port = await freePort();
    // Backoff capped at 500 ms: however long the failures before the server comes up took
    // on a busy machine, the next attempt after it is up comes soon.
    const early = client({ url: `ws://127.0.0.1:${port}/ws`, maxReconnectDelayMs: 500 });
    const { error, ms } = await failure(early.request('test.Echo', { text: 'x' }));
    expect(error).toMatchObject({ code: 0, reason: 'connection_refused', closeCode: 1006, retry: 'resume' });
    expect(error.message).toContain(`could not connect to ws://127.0.0.1:${port}/ws (connect ECONNREFUSED`);
    expect(ms).toBeLessThan(5000);
    expect(early.state).not.toBe('closed');
    await heraldServer(port);
    expect(await early.request('test.Echo', { text: 'later' }, { timeoutMs: 40_000 })).toEqual({ text: 'later' });
  }, 60_000);

  it('nothing answering (a listener that never speaks): connect_timeout', async () => {
    const sockets: Socket[] = [];
    const silent: TcpServer = createTcpServer((socket) => void sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => {
      for (const socket of sockets) socket.destroy();
      silent.close();
    });
    const url = `ws://127.0.0.1:${(silent.address() as { port: number }).port}/ws`;
    const { error, ms } = await failure(client({ url }).request('test.Echo', { text: 'x' }));
    expect(error).toMatchObject({ code: 0, reason: 'connect_timeout', retry: 'resume' });
    expect(error.message).toBe(`no answer from ${url} within 3000 ms: the server is not answering, or is not a Herald server; the client keeps retrying`);
    expect(ms).toBeLessThan(5000);
  });

  it('honours connectTimeoutMs', async () => {
    const port = await freePort();
    const { error, ms } = await failure(client({ url: `ws://127.0.0.1:${port}/ws`, connectTimeoutMs: 200 }).request('test.Echo', { text: 'x' }));
    expect(error).toMatchObject({ reason: 'connection_refused' });
    expect(ms).toBeLessThan(3000);
  });
});

describe('a client that was connected before', () => {
  it('keeps its requests across a reconnect, up to their own timeout', async () => {
    const port = await freePort();
    const first = await heraldServer(port);
    const ann = client({ url: `ws://127.0.0.1:${port}/ws`, connectTimeoutMs: 200 });
    expect(await ann.request('test.Echo', { text: 'one' })).toEqual({ text: 'one' });
    await first.stop();
    await until(() => ann.state === 'reconnecting');
    const settled: unknown[] = [];
    const waiting = ann.request('test.Echo', { text: 'two' }, { timeoutMs: 20_000 });
    waiting.then(
      (body) => settled.push(body),
      (error: unknown) => settled.push(error),
    );
    // Well past connectTimeoutMs, and several failed attempts later, the request still waits.
    await sleep(1000);
    expect(settled).toEqual([]);
    await heraldServer(port);
    expect(await waiting).toEqual({ text: 'two' });
  });
});

describe('the long-poll transport', () => {
  async function httpServer(status: number): Promise<string> {
    const server: HttpServer = createHttpServer((_, response) => {
      response.writeHead(status, { 'content-type': 'application/json' });
      response.end('{"error":"nope","message":"nope"}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    return `http://127.0.0.1:${(server.address() as { port: number }).port}/lp`;
  }

  it('a wrong path (404 at the open): at once, and the client stops', async () => {
    const url = await httpServer(404);
    const lp = client({ transport: longPollTransport({ url }) });
    const { error } = await failure(lp.request('test.Echo', { text: 'x' }));
    expect(error).toMatchObject({ code: 404, reason: 'not_found', closeCode: 4404, retry: 'fatal' });
    expect(error.message).toContain(`${url} answered 404 Not Found`);
    expect(lp.state).toBe('closed');
  });

  it('nothing listening: connection_refused within connectTimeoutMs', async () => {
    const url = `http://127.0.0.1:${await freePort()}/lp`;
    const lp = client({ transport: longPollTransport({ url }) });
    const { error, ms } = await failure(lp.request('test.Echo', { text: 'x' }));
    expect(error).toMatchObject({ code: 0, reason: 'connection_refused', retry: 'resume' });
    expect(error.message).toContain(`could not connect to ${url} (fetch failed: ECONNREFUSED)`);
    expect(ms).toBeLessThan(5000);
    expect(lp.state).not.toBe('closed');
  });
});
