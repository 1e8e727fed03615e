import { createHerald, defineContract, type NotificationMessage, type ResponseMessage } from '@herald/core';
import { connectMemory, type MemorySocket } from '@herald/core/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { z } from 'zod';
import { RedisBroker } from './broker.ts';
import { RedisSessionStore } from './session-store.ts';
import { startRedis, type RedisServer } from './testing/redis-server.ts';

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

const answer = (socket: MemorySocket, id: string) => socket.received.findLast((m): m is ResponseMessage => m.kind === 'resp' && m.reqId === id);
const system = (socket: MemorySocket, type: string) => socket.received.filter((m): m is NotificationMessage => m.kind === 'notification' && m.type === type);

it('tells clients what a Redis restart lost: a topic reset for live subscribers, recovered: false for sessions', async () => {
  const sessionStore = new RedisSessionStore({ redis: redis.url });
  const broker = new RedisBroker({ redis: redis.url });
  await sessionStore.ready;
  const herald = createHerald({
    contract,
    broker,
    sessionStore,
    authenticate: (token) => ({ userId: token }),
    canSubscribe: () => true,
    limits: { resumeWindowMs: 400 },
    onError: () => {},
    handlers: {},
  });
  try {
    const socket = await connectMemory(herald, { authorization: 'Bearer ann' });
    socket.deliver({ kind: 'req', id: 's', type: 'herald.Subscribe', body: { topic: 'news' } });
    await expect.poll(() => answer(socket, 's')?.code).toBe(200);
    const before = await herald.publish('news', 'test.Note', { n: 1 });
    await expect.poll(() => system(socket, 'test.Note').map((m) => m.offset)).toEqual([1]);
    const sessionId = ((socket.received[0] as NotificationMessage).body as { sessionId: string }).sessionId;

    await redis.kill();
    const queued = herald.publish('news', 'test.Note', { n: 2 });
    await redis.start();
    const after = await queued;
    expect(after.epoch).not.toBe(before.epoch);
    expect(after.offset).toBe(1);

    // The live subscriber hears of the new epoch before its first message.
    await expect.poll(() => system(socket, 'test.Note').map((m) => m.offset), { timeout: 5000 }).toEqual([1, 1]);
    const resets = system(socket, 'herald.TopicReset');
    expect(resets.map((m) => m.body)).toEqual([{ topic: 'news', epoch: after.epoch, offset: 0, reason: 'epoch_changed' }]);
    expect(socket.received.indexOf(resets[0] as NotificationMessage)).toBeLessThan(socket.received.findLastIndex((m) => m.kind === 'notification' && m.type === 'test.Note'));

    // The session is gone from Redis: the node ends it, and a resume is told recovered: false.
    await expect.poll(() => socket.closedWith?.code, { timeout: 5000 }).toBe(4500);
    const again = await connectMemory(herald, { authorization: 'Bearer ann' });
    again.deliver({ kind: 'req', id: 'r', type: 'herald.Resume', body: { sessionId, seq: 0, topics: { news: before } } });
    await expect.poll(() => answer(again, 'r')?.body).toMatchObject({ recovered: false, topics: { news: { recovered: false } } });
  } finally {
    await herald.close();
    await Promise.all([sessionStore.close(), broker.close()]);
  }
});
