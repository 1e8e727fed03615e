/**
 * A catch-up from topic history on a node whose live channel lags: Redis answers the history
 * read on one connection while the same messages are still on their way over the pub/sub one,
 * so the history can run ahead of what the node has delivered live. Clients that subscribe with
 * `since` while another node publishes without pause must get no notification twice, in
 * particular none at or below the position their answer gave (found behind the gateway, which
 * dropped such duplicates after `herald.Resume` answers).
 */
import { createHerald, defineContract, type Envelope, type NotificationMessage, type ResponseMessage, type StreamPosition } from '@herald/core';
import { connectMemory } from '@herald/core/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { z } from 'zod';
import { RedisBroker } from './broker.ts';
import { startRedis, type RedisServer } from './testing/redis-server.ts';

const SUBSCRIBERS = 100;
/** How far behind the live position each subscriber asks to start: a short replay. */
const BEHIND = 5;

const contract = defineContract({
  requests: {},
  notifications: { 'test.Note': { body: z.object({ n: z.number() }) } },
});

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis.stop();
});

const notes = (received: readonly Envelope[]) => received.filter((m): m is NotificationMessage => m.kind === 'notification' && m.type === 'test.Note');

it(`${SUBSCRIBERS} subscribes with since while another node publishes: no notification twice, none at or below the answer after it`, async () => {
  const broker = new RedisBroker({ redis: redis.url });
  const publisherBroker = new RedisBroker({ redis: redis.url });
  const herald = createHerald({ contract, broker, authenticate: (token) => ({ userId: token }), canSubscribe: () => true, onError: () => {}, handlers: {} });
  const publisher = createHerald({ contract, broker: publisherBroker, onError: () => {}, handlers: {} });
  let publishing = true;
  let last: StreamPosition = await publisher.publish('news', 'test.Note', { n: 0 });
  const loop = (async () => {
    while (publishing) last = await publisher.publish('news', 'test.Note', { n: last.offset + 1 });
  })();
  try {
    // Keeps the topic live on the node throughout, so that its live channel carries every message.
    const keeper = await connectMemory(herald, { authorization: 'Bearer keeper' });
    keeper.deliver({ kind: 'req', id: 's', type: 'herald.Subscribe', body: { topic: 'news' } });
    await expect.poll(() => keeper.received.some((m) => m.kind === 'resp')).toBe(true);

    const totals = { duplicates: 0, belowAnswer: 0 };
    for (let i = 0; i < SUBSCRIBERS; i++) {
      const socket = await connectMemory(herald, { authorization: `Bearer u${i}` });
      const since = { epoch: last.epoch, offset: Math.max(0, last.offset - BEHIND) };
      socket.deliver({ kind: 'req', id: 's', type: 'herald.Subscribe', body: { topic: 'news', since } });
      const answered = () => socket.received.findIndex((m) => m.kind === 'resp' && m.reqId === 's');
      await expect.poll(answered, { timeout: 30_000 }).toBeGreaterThanOrEqual(0);
      const answer = socket.received[answered()] as ResponseMessage;
      expect(answer).toMatchObject({ code: 200, body: { recovered: true } });
      const position = (answer.body as StreamPosition).offset;
      // Live delivery has gone well past the answer: anything the node would send twice has come.
      await expect.poll(() => notes(socket.received).at(-1)?.offset ?? 0, { timeout: 30_000 }).toBeGreaterThan(position + BEHIND);
      const offsets = notes(socket.received).map((m) => m.offset);
      totals.duplicates += offsets.length - new Set(offsets).size;
      totals.belowAnswer += notes(socket.received.slice(answered() + 1)).filter((m) => (m.offset as number) <= position).length;
      socket.close(1000, "done");
    }
    console.log(`topic catch-up: ${SUBSCRIBERS} subscribes with since ${BEHIND} behind, live to offset ${last.offset}; duplicates ${totals.duplicates}, at or below the answer after it ${totals.belowAnswer}`);
    expect(totals).toEqual({ duplicates: 0, belowAnswer: 0 });
  } finally {
    publishing = false;
    await loop;
    await herald.close();
    await publisher.close();
    await Promise.all([broker.close(), publisherBroker.close()]);
  }
}, 120_000);
