/**
 * `maxConnectionsPerAddress` and `maxSessionsPerPrincipal` over real sockets: uWS serving
 * WebSocket on /ws and long-poll on /lp, both counted against the one loopback address.
 */
import { LongPollWebSocket } from '@herald/client';
import { createHerald, defineContract, type Herald, type HeraldOptions } from '@herald/core';
import { connect, eventually, upgradeRefusal, type Tester } from '@herald/testing';
import { attachHerald, attachHttp, loadUws } from '@herald/uws';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createLongPollHandler } from '../src/index.ts';

type Transport = 'websocket' | 'long-poll';

const contract = defineContract({
  requests: { 'test.Echo': { request: z.object({ text: z.string() }), response: z.object({ text: z.string() }) } },
  notifications: {},
});

const PATIENCE_MS = 20_000;

interface Running {
  readonly origin: string;
  readonly herald: Herald<typeof contract>;
  stop(): Promise<void>;
}

let running: Running | undefined;
const testers: Tester[] = [];
afterEach(async () => {
  for (const tester of testers.splice(0)) await tester.close().catch(() => {});
  await running?.stop();
  running = undefined;
});

/** `anonymous`: without an authenticate hook. */
async function serve(options: Partial<HeraldOptions<typeof contract>>, anonymous = false): Promise<Running> {
  const authenticate = (token: string) => (/^[a-z]+$/.test(token) ? { userId: token } : null);
  const herald = createHerald({
    contract,
    handlers: { 'test.Echo': ({ text }) => ({ text }) },
    ...(anonymous ? {} : { authenticate }),
    ...options,
  });
  const uws = loadUws();
  const app = uws.App();
  attachHerald(app, herald, { path: '/ws' }, uws);
  // A dropped long-poll client is seen as gone once it stops polling for `idleTimeoutMs`.
  const longPoll = createLongPollHandler(herald, { pollTimeoutMs: 500, idleTimeoutMs: 2000 });
  for (const pattern of ['/lp', '/lp/*']) attachHttp(app, pattern, longPoll.handle);
  const listen = await new Promise<unknown>((resolve) => app.listen('127.0.0.1', 0, resolve));
  return {
    origin: `http://127.0.0.1:${uws.us_socket_local_port(listen as never)}`,
    herald,
    stop: async () => {
      await herald.close();
      longPoll.close();
      uws.us_listen_socket_close(listen as never);
    },
  };
}

function urlOf(origin: string, transport: Transport): string {
  return transport === 'websocket' ? `${origin.replace('http', 'ws')}/ws` : `${origin}/lp`;
}

async function client(origin: string, transport: Transport, token?: string): Promise<Tester> {
  const tester = await connect(urlOf(origin, transport), {
    timeoutMs: PATIENCE_MS,
    ...(token === undefined ? {} : { token }),
    ...(transport === 'long-poll' ? { WebSocket: LongPollWebSocket } : {}),
  });
  testers.push(tester);
  return tester;
}

/** What a native client gets when its open is refused: the HTTP status, `Retry-After` and JSON body. */
async function refusal(origin: string, transport: Transport, headers: Record<string, string> = {}) {
  if (transport === 'websocket') {
    const refused = await upgradeRefusal(urlOf(origin, transport), { headers });
    return { status: refused.status, retryAfter: refused.headers['retry-after'], body: refused.body };
  }
  const response = await fetch(urlOf(origin, transport), { method: 'POST', headers: { 'herald-protocol': 'herald.v1', ...headers } });
  return { status: response.status, retryAfter: response.headers.get('retry-after') ?? undefined, body: await response.json() };
}

describe.each(['websocket', 'long-poll'] as const)('caps over %s', (transport) => {
  it('refuses the connection past maxConnectionsPerAddress with 429 too_many_connections, and admits one again after one closes', async () => {
    running = await serve({ limits: { maxConnectionsPerAddress: 3 } }, true);
    const open = [await client(running.origin, transport), await client(running.origin, transport), await client(running.origin, transport)];
    expect(await refusal(running.origin, transport)).toEqual({
      status: 429,
      retryAfter: '5',
      body: { error: 'too_many_connections', message: 'too many connections from this address (at most 3)', retryAfterMs: 5000 },
    });
    await open[0]?.close();
    // The server sees the close on its own time: the next open succeeds once it has.
    const { origin } = running;
    await eventually(async () => {
      const again = await client(origin, transport);
      expect(again.welcome.sessionId).toBeTypeOf('string');
    }, PATIENCE_MS);
    expect((await refusal(running.origin, transport)).status).toBe(429);
  });

  it('refuses a session past maxSessionsPerPrincipal while all are live, and ends the longest-detached one for a new one', async () => {
    running = await serve({ limits: { maxSessionsPerPrincipal: 2 } });
    const first = await client(running.origin, transport, 'alice');
    const second = await client(running.origin, transport, 'alice');
    await second.request('test.Echo', { text: 'settle' });
    await first.request('test.Echo', { text: 'settle' });
    const third = await client(running.origin, transport);
    const refused = await third.request('herald.Authenticate', { token: 'alice' });
    expect(refused).toMatchObject({ code: 429, body: { error: 'too_many_sessions', retryAfterMs: 5000 } });
    expect(await third.closed).toEqual({ code: 4429, reason: 'too many sessions of this user (at most 2)' });
    await first.drop();
    const { herald } = running;
    await eventually(() => expect(herald.stats.connections).toBe(1), PATIENCE_MS);
    const fourth = await client(running.origin, transport, 'alice');
    await fourth.request('test.Echo', { text: 'settle' });
    expect(herald.stats).toMatchObject({ sessions: 2, connections: 2 });
    await fourth.close();
    await eventually(() => expect(herald.stats.sessions).toBe(1), PATIENCE_MS);
    const late = await client(running.origin, transport, 'alice');
    const resumed = await late.request('herald.Resume', { sessionId: first.welcome.sessionId, seq: 0 });
    expect(resumed).toMatchObject({ code: 200, body: { sessionId: late.welcome.sessionId, recovered: false, topics: {} } });
  });
});

describe('caps across transports', () => {
  it('counts WebSocket and long-poll connections of one address together', async () => {
    running = await serve({ limits: { maxConnectionsPerAddress: 2 } }, true);
    await client(running.origin, 'websocket');
    await client(running.origin, 'long-poll');
    expect((await refusal(running.origin, 'websocket')).status).toBe(429);
    expect((await refusal(running.origin, 'long-poll')).status).toBe(429);
  });
});
