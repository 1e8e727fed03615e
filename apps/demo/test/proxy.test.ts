/**
 * "It's not WebSockets, it's your broken proxy": the demo chat behind a real nginx (Debian's),
 * started by each test on a loopback port with its own configuration, and the real client SDK
 * (the same code the pages bundle for browsers) in front of it.
 *
 * (a) nginx set up for WebSockets; (b) nginx without Upgrade support → long-poll within 3 s;
 * (c) `proxy_read_timeout 10s` → an idle session survives 40 s on keep-alive;
 * (d) nginx frozen with SIGSTOP → the client notices within interval + grace, then resumes.
 */
import { autoTransport, createClient, type ClientState, type HeraldClient } from '@herald/client';
import { createLongPollHandler } from '@herald/long-poll';
import { attachHttp, loadUws, serveHerald, type HeraldUwsServer } from '@herald/uws';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createChat } from '../src/app.ts';
import { freePort, startNginx, type Nginx } from '@herald/testing/node';

const PING_INTERVAL_MS = 3000;
const PING_TIMEOUT_MS = 3000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

interface Backend {
  readonly port: number;
  readonly herald: ReturnType<typeof createChat>;
  close(): Promise<void>;
}

async function startBackend(): Promise<Backend> {
  const herald = createChat({ upgradeRateLimit: false, limits: { pingIntervalMs: PING_INTERVAL_MS, pingTimeoutMs: PING_TIMEOUT_MS } });
  const app = loadUws().App();
  const longPoll = createLongPollHandler(herald, { pollTimeoutMs: 5000 });
  attachHttp(app, '/lp', longPoll.handle);
  attachHttp(app, '/lp/*', longPoll.handle);
  app.any('/*', (res) => void res.cork(() => res.writeStatus('404 Not Found').end()));
  const server: HeraldUwsServer = await serveHerald(herald, { app, port: 0, host: '127.0.0.1' });
  return {
    port: server.port,
    herald,
    close: async () => {
      await server.close();
      longPoll.close();
    },
  };
}

let backend: Backend | undefined;
let nginx: Nginx | undefined;
let client: HeraldClient<any> | undefined;
afterEach(async () => {
  client?.close();
  await nginx?.stop();
  await backend?.close();
  client = undefined;
  nginx = undefined;
  backend = undefined;
});

function connectThrough(proxy: Nginx, name: string, states: ClientState[] = [], transports: string[] = []): HeraldClient<any> {
  client = createClient({
    transport: autoTransport({
      url: `ws://127.0.0.1:${proxy.port}/ws`,
      WebSocket,
      probeEveryMs: 60_000,
      onTransport: (kind) => transports.push(kind),
    }),
    token: `demo-${name}`,
    reconnectDelayMs: 100,
    onStateChange: (state) => { states.push(state); if (process.env['PROXY_DEBUG']) console.log('state', state, JSON.stringify(client?.lastClose)); },
    onError: (error) => process.env['PROXY_DEBUG'] && console.log('error', String(error)),
  });
  return client;
}

describe('behind nginx', () => {
  it('(a) works through nginx configured for WebSockets', async () => {
    backend = await startBackend();
    nginx = await startNginx(backend.port, 'upgrade');
    const transports: string[] = [];
    const alice = connectThrough(nginx, 'alice', [], transports);
    const messages: string[] = [];
    alice.on('chat.Message', (body: { text: string }) => messages.push(body.text));
    await alice.request('chat.Join', { room: 'proxy' });
    await alice.request('chat.Send', { room: 'proxy', text: 'through nginx' });
    await until(() => messages.length === 1, 3000, 'the room message');
    expect(messages).toEqual(['through nginx']);
    expect(transports).toEqual(['websocket']);
  });

  it('(b) falls back to long-poll within 3 s when nginx does not pass the upgrade, and completes the flow', async () => {
    backend = await startBackend();
    nginx = await startNginx(backend.port, 'no-upgrade');
    const transports: string[] = [];
    const started = Date.now();
    const alice = connectThrough(nginx, 'alice', [], transports);
    const messages: string[] = [];
    alice.on('chat.Message', (body: { text: string }) => messages.push(body.text));
    await alice.request('chat.Join', { room: 'fallback' });
    expect(Date.now() - started).toBeLessThan(3000);
    expect(transports).toEqual(['websocket', 'long-poll']);
    await alice.request('chat.Send', { room: 'fallback', text: 'over long-poll' });
    await alice.request('chat.Whisper', { to: 'alice', text: 'to myself' });
    await until(() => messages.length === 1, 3000, 'the room message');
    expect(messages).toEqual(['over long-poll']);
  });

  it('(c) keeps an idle session alive for 40 s through proxy_read_timeout 10s', async () => {
    backend = await startBackend();
    nginx = await startNginx(backend.port, 'upgrade', { readTimeout: '10s' });
    const states: ClientState[] = [];
    const alice = connectThrough(nginx, 'alice', states);
    await alice.request('chat.Join', { room: 'idle' });
    const session = alice.sessionId;
    await sleep(40_000);
    expect(states).toEqual(['open']);
    expect(alice.sessionId).toBe(session);
    expect(await alice.request('chat.Send', { room: 'idle', text: 'still here' })).toEqual({ offset: 1 });
  }, 60_000);

  it('(d) notices a frozen proxy within interval + grace, reconnects and resumes with nothing lost', async () => {
    backend = await startBackend();
    nginx = await startNginx(backend.port, 'upgrade');
    const states: ClientState[] = [];
    const alice = connectThrough(nginx, 'alice', states);
    const offsets: number[] = [];
    alice.subscribe('room/frozen', (_body: unknown, meta: { offset?: number }) => offsets.push(meta.offset as number));
    await alice.request('chat.Join', { room: 'frozen' });
    await backend.herald.publish('room/frozen', 'chat.Message', { room: 'frozen', text: 'before', from: 'server' });
    await until(() => offsets.length === 1, 3000, 'the first message');
    const session = alice.sessionId;

    nginx.process.kill('SIGSTOP');
    const frozenAt = Date.now();
    for (let n = 0; n < 3; n++) await backend.herald.publish('room/frozen', 'chat.Message', { room: 'frozen', text: `during ${n}`, from: 'server' });
    await until(() => states.includes('reconnecting'), PING_INTERVAL_MS + PING_TIMEOUT_MS + 3000, 'the client to notice');
    const noticedAfter = Date.now() - frozenAt;
    expect(alice.lastClose?.code).toBe(4408);
    expect(noticedAfter).toBeLessThanOrEqual(PING_INTERVAL_MS + PING_TIMEOUT_MS + 1500);

    nginx.process.kill('SIGCONT');
    await until(() => offsets.length === 4 && alice.state === 'open', 20_000, 'the resume');
    expect(offsets).toEqual([1, 2, 3, 4]);
    expect(alice.sessionId).toBe(session);
    console.log(`(d) frozen proxy noticed after ${noticedAfter} ms (interval ${PING_INTERVAL_MS} + timeout ${PING_TIMEOUT_MS})`);
  }, 40_000);
});
