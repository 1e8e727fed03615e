/** The long-poll transport over real HTTP on loopback: bad input, polls, expiry, fallback and back. */
import { autoTransport, createClient, longPollTransport } from '@herald/client';
import { createHerald, defineContract } from '@herald/core';
import { createConformanceHerald } from '@herald/testing/conformance';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { MemoryLongPollStore } from '../src/index.ts';
import { serve, type Running } from './server.ts';

let running: Running | undefined;
afterEach(async () => {
  await running?.stop();
  running = undefined;
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(10);
  }
}

async function open(origin: string, headers: Record<string, string> = {}) {
  const response = await fetch(`${origin}/lp`, { method: 'POST', headers: { 'herald-protocol': 'herald.v1', ...headers } });
  const body = (await response.json()) as { sid: string; from: number; messages: any[] };
  return { sid: body.sid, body, status: response.status };
}

const send = (origin: string, sid: string, body: string, headers: Record<string, string> = {}) =>
  fetch(`${origin}/lp/send`, { method: 'POST', headers: { 'herald-session': sid, 'content-type': 'application/json', ...headers }, body });
const poll = (origin: string, sid: string, ack: number | string, signal?: AbortSignal) =>
  fetch(`${origin}/lp/poll?ack=${ack}`, { headers: { 'herald-session': sid }, ...(signal === undefined ? {} : { signal }) });

describe.each(['attachHttp', 'attachFetch'] as const)('long-poll endpoints (%s)', (mount) => {
  it('opens with the Welcome, takes batches of frames, and answers on the poll', async () => {
    running = await serve(createConformanceHerald(), { pollTimeoutMs: 1000 }, mount);
    const { sid, body, status } = await open(running.origin);
    expect(status).toBe(200);
    expect(sid).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(body.messages[0]).toMatchObject({ type: 'herald.Welcome' });
    const auth = [JSON.stringify({ kind: 'req', id: '1', type: 'herald.Authenticate', body: { token: 'user:ann' } })];
    expect((await send(running.origin, sid, JSON.stringify(auth))).status).toBe(204);
    const first = (await (await poll(running.origin, sid, body.from)).json()) as { from: number; messages: any[] };
    expect(first.from).toBe(2);
    expect(first.messages.map((m) => m.type)).toEqual(['herald.Authenticate', 'herald.Subscribed']);
    const frames = [JSON.stringify({ kind: 'req', id: '2', type: 'conf.Echo', body: { text: 'hi' } }), '{not json'];
    expect((await send(running.origin, sid, JSON.stringify(frames))).status).toBe(204);
    const second = (await (await poll(running.origin, sid, 3)).json()) as { from: number; messages: any[] };
    expect(second).toMatchObject({ from: 4, messages: [{ reqId: '2', code: 200, body: { text: 'hi' } }, { type: 'herald.Error', body: { error: 'invalid_json' } }] });
  });

  it('answers bad input with documented codes', async () => {
    running = await serve(createConformanceHerald(), { pollTimeoutMs: 200, maxBodyBytes: 1000 }, mount);
    const { origin } = running;
    const { sid } = await open(origin, { authorization: 'Bearer user:ann' });
    const cases: Array<[Promise<Response>, number, string]> = [
      [send(origin, sid, '{"not":"an array"}'), 400, 'invalid_batch'],
      [send(origin, sid, 'nope'), 400, 'invalid_batch'],
      [send(origin, sid, '[]'), 400, 'invalid_batch'],
      [send(origin, sid, '[1,2]'), 400, 'invalid_batch'],
      [send(origin, sid, JSON.stringify(['x'.repeat(2000)])), 413, 'too_large'],
      [send(origin, 'unknown-session-id-xxxx', '["{}"]'), 404, 'unknown_session'],
      [poll(origin, 'unknown-session-id-xxxx', 0), 404, 'unknown_session'],
      [poll(origin, sid, 'x'), 400, 'invalid_batch'],
      ...['', '-1', '1.5', '1e3', ' 1', '0x10'].map((ack): [Promise<Response>, number, string] => [poll(origin, sid, ack), 400, 'invalid_batch']),
      [fetch(`${origin}/lp/poll`, { headers: { 'herald-session': sid } }), 400, 'invalid_batch'],
      [send(origin, sid, '["{}"]', { authorization: 'Bearer user:eve' }), 403, 'forbidden'],
    ];
    for (const [request, status, error] of cases) {
      const response = await request;
      expect({ status: response.status, error: ((await response.json()) as { error: string }).error }).toEqual({ status, error });
    }
    const details = (await (await send(origin, sid, '[1,"{}"]')).json()) as { issues: unknown };
    expect(details.issues).toEqual([{ path: [0], message: 'a frame is a string holding one envelope' }]);
    expect((await fetch(`${origin}/lp`, { method: 'POST' })).status).toBe(406);
  });

  it('answers an older poll at once when a newer one arrives, and re-sends what was not acknowledged', async () => {
    running = await serve(createConformanceHerald(), { pollTimeoutMs: 5000 }, mount);
    const { origin } = running;
    const { sid, body } = await open(origin);
    const started = Date.now();
    const first = poll(origin, sid, body.from);
    await sleep(50);
    const second = poll(origin, sid, body.from);
    // Empty, and from the cursor the next frame will get: the Welcome (1) was acknowledged.
    expect(await (await first).json()).toEqual({ from: 2, messages: [] });
    expect(Date.now() - started).toBeLessThan(1000);
    await send(origin, sid, JSON.stringify([JSON.stringify({ kind: 'ping' })]));
    const answered = (await (await second).json()) as { from: number; messages: any[] };
    expect(answered.messages).toEqual([{ kind: 'pong' }]);
    const again = (await (await poll(origin, sid, body.from)).json()) as { from: number; messages: any[] };
    expect(again).toEqual(answered);
  });

  it('expires an abandoned connection and keeps its session resumable', async () => {
    const herald = createConformanceHerald();
    running = await serve(herald, { pollTimeoutMs: 100, idleTimeoutMs: 300 }, mount);
    await open(running.origin, { authorization: 'Bearer user:ann' });
    expect(running.longPoll.size).toBe(1);
    await until(() => running?.longPoll.size === 0, 3000);
    expect(herald.stats.connections).toBe(0);
  });

  it('holds 1,000 concurrent polls and answers them all on a broadcast', async () => {
    const herald = createConformanceHerald({ pingIntervalMs: 60_000, pingTimeoutMs: 60_000, authDeadlineMs: 60_000, maxConnectionsPerAddress: 2000, maxSessionsPerPrincipal: 2000 });
    running = await serve(herald, { pollTimeoutMs: 20_000 }, mount);
    const { origin } = running;
    const sessions: Array<{ sid: string; from: number }> = [];
    for (let i = 0; i < 1000; i += 100) {
      const opened = await Promise.all(Array.from({ length: 100 }, () => open(origin, { authorization: `Bearer user:u${i}` })));
      sessions.push(...opened.map(({ sid, body }) => ({ sid, from: body.from + body.messages.length - 1 })));
    }
    // take the `$all` Subscribed each session gets after authenticating, so the next poll is held
    await Promise.all(
      sessions.map(async (s) => {
        const drained = (await (await poll(origin, s.sid, s.from)).json()) as { from: number; messages: unknown[] };
        s.from = drained.from + drained.messages.length - 1;
      }),
    );
    const polls = sessions.map((s) => poll(origin, s.sid, s.from).then((r) => r.json() as Promise<{ messages: any[] }>));
    await sleep(500);
    await herald.broadcast('conf.Published', { n: 1 });
    const answers = await Promise.all(polls);
    const bad = answers.find((a) => a.messages === undefined);
    if (bad !== undefined) throw new Error(`a poll failed: ${JSON.stringify(bad)}`);
    const delivered = answers.filter((a) => a.messages.some((m) => m.type === 'conf.Published')).length;
    expect(delivered).toBe(1000);
  }, 60_000);
});

describe('the client over long-poll', () => {
  it('completes the full exchange over long-poll alone', async () => {
    running = await serve(createConformanceHerald(), { pollTimeoutMs: 1000 });
    const client = createClient({ transport: longPollTransport({ url: `${running.origin}/lp` }), token: 'user:ann' });
    const ticks: number[] = [];
    await client.subscribe('conf/room', (body: { n: number }) => ticks.push(body.n)).ready;
    expect(await client.request('conf.Echo' as never, { text: 'over http' } as never)).toEqual({ text: 'over http' });
    await client.request('conf.Publish' as never, { topic: 'conf/room', count: 5 } as never);
    await until(() => ticks.length === 5);
    expect(ticks).toEqual([1, 2, 3, 4, 5]);
    client.close();
  });

  it('resumes after its long-poll connection expired on the server, losing nothing', async () => {
    const store = new MemoryLongPollStore();
    running = await serve(createConformanceHerald(), { pollTimeoutMs: 200, store });
    const failures: unknown[] = [];
    const client = createClient({ transport: longPollTransport({ url: `${running.origin}/lp` }), token: 'user:ann', reconnectDelayMs: 10, onRecoveryFailed: (f) => failures.push(f) });
    const offsets: number[] = [];
    await client.subscribe('conf/room', (_body: unknown, meta: { offset?: number }) => offsets.push(meta.offset as number)).ready;
    const session = client.sessionId;
    for (const [sid] of store.entries()) store.delete(sid);
    await client.request('conf.Publish' as never, { topic: 'conf/room', count: 4 } as never);
    await until(() => offsets.length === 4);
    expect(offsets).toEqual([1, 2, 3, 4]);
    expect(client.sessionId).toBe(session);
    expect(failures).toEqual([]);
    client.close();
  });
});

describe('automatic fallback', () => {
  it('falls back to long-poll when WebSockets are refused, and goes back to WebSocket when they pass again', async () => {
    running = await serve(createConformanceHerald(), { pollTimeoutMs: 500 });
    running.blockWebSockets = true;
    const transports: string[] = [];
    const url = running.origin.replace('http', 'ws') + '/ws';
    const client = createClient({
      transport: autoTransport({ url, WebSocket, probeEveryMs: 300, onTransport: (kind) => transports.push(kind) }),
      token: 'user:ann',
      reconnectDelayMs: 10,
    });
    const offsets: number[] = [];
    const started = Date.now();
    await client.subscribe('conf/room', (_body: unknown, meta: { offset?: number }) => offsets.push(meta.offset as number)).ready;
    expect(Date.now() - started).toBeLessThan(3000);
    expect(transports).toEqual(['websocket', 'long-poll']);
    await client.request('conf.Publish' as never, { topic: 'conf/room', count: 3 } as never);
    const session = client.sessionId;

    running.blockWebSockets = false;
    await until(() => transports.at(-1) === 'websocket' && client.state === 'open', 5000);
    await client.request('conf.Publish' as never, { topic: 'conf/room', count: 3 } as never);
    await until(() => offsets.length >= 6);
    await sleep(50);
    expect(offsets).toEqual([1, 2, 3, 4, 5, 6]);
    expect(client.sessionId).toBe(session);
    client.close();
  });
});

describe('the per-IP open limit on uWS (attachHttp)', () => {
  it('answers long-poll opens past the upgrade rate limit with 429 and a retry hint, as WebSocket upgrades are', async () => {
    const herald = createHerald({
      contract: defineContract({ requests: {}, notifications: {} }),
      handlers: {},
      authenticate: () => null,
      upgradeRateLimit: { perSecond: 1, burst: 2 },
    });
    running = await serve(herald, { pollTimeoutMs: 200 });
    const opens = [];
    for (let i = 0; i < 3; i++) opens.push(await fetch(`${running.origin}/lp`, { method: 'POST', headers: { 'herald-protocol': 'herald.v1' } }));
    expect(opens.map((r) => r.status)).toEqual([200, 200, 429]);
    const refused = (await opens[2]?.json()) as { error: string; retryAfterMs: number };
    expect(refused.error).toBe('rate_limited');
    expect(refused.retryAfterMs).toBeGreaterThan(0);
  });
});
