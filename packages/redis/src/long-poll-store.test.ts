import { createClient, longPollTransport } from '@herald/client';
import { createHerald, defineContract } from '@herald/core';
import { createLongPollHandler, type LongPollHandler } from '@herald/long-poll';
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

async function node(): Promise<{ handler: LongPollHandler; close: () => Promise<void> }> {
  const sessionStore = new RedisSessionStore({ redis: redis.url });
  const store = new RedisLongPollStore({ redis: redis.url, sessionStore });
  const broker = new RedisBroker({ redis: redis.url });
  await Promise.all([sessionStore.ready, store.ready]);
  const herald = createHerald({
    contract,
    broker,
    sessionStore,
    authenticate: (token) => ({ userId: token }),
    canSubscribe: () => true,
    handlers: {
      'test.Notify': ({ n }, ctx) => {
        ctx.notify('test.Note', { n });
        return { n };
      },
    },
  });
  const handler = createLongPollHandler(herald, { store, pollTimeoutMs: 500 });
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
