import { createClient, longPollTransport } from '@herald/client';
import { createHerald, defineContract } from '@herald/core';
import { createLongPollHandler, type LongPollHandler } from '@herald/long-poll';
import { eventually } from '@herald/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { z } from 'zod';
import { startRedis, type RedisServer } from './testing/redis-server.ts';
import { RedisBroker } from './broker.ts';
import { RedisLongPollStore } from './long-poll-store.ts';
import { RedisSessionStore } from './session-store.ts';

const contract = defineContract({
  requests: { 'test.Notify': { request: z.object({ n: z.number() }), response: z.object({ n: z.number() }) } },
  notifications: { 'test.Note': { body: z.object({ n: z.number() }) } },
});

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis.stop();
});

interface NodeOptions {
  readonly prefix?: string;
  readonly pollTimeoutMs?: number;
  readonly nodeTimeoutMs?: number;
  readonly pingIntervalMs?: number;
  /** Names the node's connections to Redis (`CLIENT SETNAME`), so a test can cut them; they are then never reopened. */
  readonly name?: string;
}

async function node(options: NodeOptions = {}): Promise<{ handler: LongPollHandler; close: () => Promise<void> }> {
  const { name, prefix } = options;
  const connection = (part: string) =>
    name === undefined ? redis.url : { host: '127.0.0.1', port: redis.port, connectionName: `${name}-${part}`, retryStrategy: () => null };
  const sessionStore = new RedisSessionStore({
    redis: connection('sessions'),
    ...(prefix === undefined ? {} : { prefix }),
    ...(options.nodeTimeoutMs === undefined ? {} : { nodeTimeoutMs: options.nodeTimeoutMs }),
  });
  const store = new RedisLongPollStore({ redis: connection('long-poll'), sessionStore });
  const broker = new RedisBroker({ redis: connection('broker'), ...(prefix === undefined ? {} : { prefix }) });
  await Promise.all([sessionStore.ready, store.ready]);
  const herald = createHerald({
    contract,
    broker,
    sessionStore,
    ...(options.pingIntervalMs === undefined ? {} : { limits: { pingIntervalMs: options.pingIntervalMs } }),
    authenticate: (token) => ({ userId: token }),
    canSubscribe: () => true,
    handlers: {
      'test.Notify': ({ n }, ctx) => {
        ctx.notify('test.Note', { n });
        return { n };
      },
    },
  });
  const handler = createLongPollHandler(herald, { store, pollTimeoutMs: options.pollTimeoutMs ?? 500 });
  return {
    handler,
    close: async () => {
      await herald.close();
      handler.close();
      await Promise.all([store.disconnect(), sessionStore.close(), broker.close()]);
    },
  };
}

it('serves one long-poll connection through two nodes, every request to the next node (no stickiness)', async () => {
  const nodes = [await node(), await node()];
  const served = [0, 0];
  let next = 0;
  const fetch = (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const index = next++ % nodes.length;
    served[index] = (served[index] ?? 0) + 1;
    return (nodes[index] as { handler: LongPollHandler }).handler.fetch(new Request(input, init));
  };
  const client = createClient<typeof contract>({ transport: longPollTransport({ url: 'http://cluster.test/lp', fetch }), token: 'lp-user' });
  try {
    const notes: number[] = [];
    const topic: number[] = [];
    client.on('test.Note', (body, meta) => {
      if (meta.topic === undefined) notes.push(body.n);
      else topic.push(body.n);
    });
    await client.subscribe('room', () => {}).ready;
    for (let n = 1; n <= 5; n++) expect(await client.request('test.Notify', { n })).toEqual({ n });
    const publisher = new RedisBroker({ redis: redis.url });
    for (let n = 1; n <= 5; n++) await publisher.publish('room', 'test.Note', JSON.stringify({ n }));
    await publisher.close();
    await expect.poll(() => [notes, topic], { timeout: 5000 }).toEqual([
      [1, 2, 3, 4, 5],
      [1, 2, 3, 4, 5],
    ]);
    expect(Math.min(...served)).toBeGreaterThan(3);
  } finally {
    client.close();
    for (const n of nodes) await n.close();
  }
});

/** Drops every connection to Redis whose name starts with `name`, as the death of its process would. */
async function cut(admin: Redis, name: string): Promise<void> {
  const clients = (await admin.client('LIST')) as string;
  const ids = [...clients.matchAll(/^id=(\d+) .*? name=(\S*)/gm)].filter(([, , client]) => client?.startsWith(name)).map(([, id]) => id as string);
  expect(ids.length).toBeGreaterThan(0);
  for (const id of ids) await admin.client('KILL', 'ID', id);
}

const lp = 'http://cluster.test/lp';

// Authenticated at the open: no authentication deadline closes the session while a test waits.
const auth = { authorization: 'Bearer lp-user' };

async function openOn(handler: LongPollHandler): Promise<{ sid: string; cursor: number }> {
  const response = await handler.fetch(new Request(lp, { method: 'POST', headers: { 'herald-protocol': 'herald.v1', ...auth } }));
  expect(response.status).toBe(200);
  const { sid, from, messages } = (await response.json()) as { sid: string; from: number; messages: unknown[] };
  // Polls until a poll brings nothing: what the open set off (the `$all` subscription) is read.
  for (let cursor = from + messages.length - 1; ; ) {
    const polled = await handler.fetch(new Request(`${lp}/poll?ack=${cursor}`, { headers: { 'herald-session': sid, ...auth } }));
    const body = (await polled.json()) as { from: number; messages: unknown[] };
    if (body.messages.length === 0) return { sid, cursor };
    cursor = body.from + body.messages.length - 1;
  }
}

const HOLD_MS = 20_000;
let holderTests = 0;

it.each([
  // The process is gone: Redis drops its connections at once, long before its heartbeat (30 s here) expires.
  { death: 'dies', nodeTimeoutMs: 30_000, parts: ['a-'] },
  // It freezes: its connections stay open (it still listens), but its heartbeat stops and expires.
  { death: 'stops its heartbeat', nodeTimeoutMs: 1500, parts: ['a-sessions'] },
])('answers 404 at once, not after the hold, for a poll held on B when the node A holding its connection $death', async ({ nodeTimeoutMs, parts }) => {
  const prefix = `lp-holder-${++holderTests}:`;
  const admin = new Redis(redis.url);
  // No keep-alive pings: a frame from A would wake the poll and have it checked early.
  const a = await node({ prefix, name: 'a', nodeTimeoutMs, pingIntervalMs: 3_600_000 });
  const b = await node({ prefix, pollTimeoutMs: HOLD_MS, pingIntervalMs: 3_600_000 });
  try {
    const { sid, cursor } = await openOn(a.handler);
    const poll = b.handler.fetch(new Request(`${lp}/poll?ack=${cursor}`, { headers: { 'herald-session': sid, ...auth } }));
    // Held on B: B listens for the connection's wake-ups.
    await eventually(async () => expect(await admin.pubsub('NUMSUB', `${prefix}lpw:${sid}`)).toEqual([`${prefix}lpw:${sid}`, 1]));
    const second = await openOn(a.handler);
    for (const part of parts) await cut(admin, part);
    const cutAt = Date.now();
    const answer = await poll;
    const waited = Date.now() - cutAt;
    expect(answer.status).toBe(404);
    expect(await answer.json()).toMatchObject({ error: 'unknown_session' });
    expect(waited).toBeLessThan(HOLD_MS / 2);
    console.log(`holder ${parts.join(', ')} cut: the poll held on B answered 404 after ${waited} ms (hold ${HOLD_MS} ms)`);
    // A send for another of A's connections is refused too, rather than published to nobody.
    const send = await b.handler.fetch(
      new Request(`${lp}/send`, { method: 'POST', headers: { 'herald-session': second.sid, ...auth }, body: '["{\\"kind\\":\\"pong\\"}"]' }),
    );
    expect(send.status).toBe(404);
  } finally {
    await Promise.all([a.close().catch(() => {}), b.close()]);
    admin.disconnect();
  }
}, 60_000);
