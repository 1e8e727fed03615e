import type { TopicMessage } from '@herald/core';
import { describeBroker } from '@herald/testing/conformance';
import { eventually } from '@herald/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisServer } from './testing/redis-server.ts';
import { RedisBroker } from './broker.ts';
import { OutboxFullError } from './outbox.ts';

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis.stop();
});


describeBroker({
  name: 'RedisBroker',
  create: () => new RedisBroker({ redis: redis.url, historySize: 5 }),
  peer: () => new RedisBroker({ redis: redis.url, historySize: 5 }),
  historySize: 5,
});

describe('RedisBroker', () => {
  it('trims history by age', async () => {
    const broker = new RedisBroker({ redis: redis.url, historyTtlMs: 100 });
    try {
      await broker.publish('aged', 'test.Event', '1');
      await new Promise((resolve) => setTimeout(resolve, 150));
      const position = await broker.publish('aged', 'test.Event', '2');
      expect((await broker.history('aged', { epoch: position.epoch, offset: 0 })).complete).toBe(false);
      expect((await broker.history('aged', { epoch: position.epoch, offset: 1 })).messages.map((m) => m.body)).toEqual(['2']);
    } finally {
      await broker.close();
    }
  });

  it('forgets a topic nobody published to for topicTtlMs: it comes back with a new epoch', async () => {
    const broker = new RedisBroker({ redis: redis.url, topicTtlMs: 1000 });
    try {
      const first = await broker.publish('ephemeral', 'test.Event', '1');
      const client = (broker as unknown as { client: { pttl(key: string): Promise<number> } }).client;
      expect(await client.pttl('herald:t:{ephemeral}')).toBeGreaterThan(500);
      expect(await client.pttl('herald:t:{ephemeral}:m')).toBeGreaterThan(500);
      await new Promise((resolve) => setTimeout(resolve, 1100));
      const second = await broker.publish('ephemeral', 'test.Event', '2');
      expect(second.epoch).not.toBe(first.epoch);
      expect(second.offset).toBe(1);
    } finally {
      await broker.close();
    }
  });

  it('survives a Redis restart: publishes wait in the outbox, leave in order, and the lost history shows as a new epoch', async () => {
    const publisher = new RedisBroker({ redis: redis.url, outboxSize: 50 });
    const listener = new RedisBroker({ redis: redis.url });
    try {
      const heard: TopicMessage[] = [];
      await listener.subscribe('restart', (m) => heard.push(m));
      const before = await publisher.publish('restart', 'test.Event', '"before"');
      await eventually(() => expect(heard).toHaveLength(1));
      expect(publisher.health()).toEqual({ status: 'ok', outbox: 0, lastError: undefined });

      await redis.kill();
      // `down` as soon as either connection is lost; writes wait in the outbox once the writing one is.
      const client = (publisher as unknown as { client: { status: string } }).client;
      await eventually(() => expect(client.status).not.toBe('ready'));
      expect(publisher.health().status).toBe('down');
      const during = Array.from({ length: 20 }, (_, i) => publisher.publish('restart', 'test.Event', String(i)));
      expect(publisher.health().outbox).toBe(20);
      await expect(Promise.all(Array.from({ length: 31 }, () => publisher.publish('restart', 'test.Event', '0')))).rejects.toBeInstanceOf(
        OutboxFullError,
      );
      expect(publisher.health().outbox).toBe(50);
      expect(publisher.health().lastError).toBeDefined();

      await redis.start();
      const positions = await Promise.all(during);
      expect(positions.map((p) => p.offset)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
      expect(positions[0]?.epoch).not.toBe(before.epoch);
      await eventually(() => expect(publisher.health()).toEqual({ status: 'ok', outbox: 0, lastError: undefined }));
      expect((await publisher.history('restart', before)).complete).toBe(false);
      const epoch = positions[0]?.epoch as string;
      // Published before the listener's subscription came back: read from history, not from the channel.
      const history = await publisher.history('restart', { epoch, offset: 0 });
      expect(history.messages.map((m) => m.body).slice(0, 20)).toEqual(Array.from({ length: 20 }, (_, i) => String(i)));
      await publisher.publish('restart', 'test.Event', '"after"');
      // 20 + the 30 that fitted in the outbox + 1. Whether the listener was back on the channel before
      // the outbox flushed or not, it hears every message of the new epoch once, in order.
      await eventually(() => expect(heard.at(-1)?.body).toBe('"after"'));
      expect(heard.slice(1).map((m) => [m.epoch, m.offset])).toEqual(Array.from({ length: 51 }, (_, i) => [epoch, i + 1]));
    } finally {
      await redis.start(); // the tests after this one need it, whatever failed here
      await Promise.all([publisher.close(), listener.close()]);
    }
  });

  it('delivers a new epoch a listener missed while away from its channel, after the stream restarted', async () => {
    const publisher = new RedisBroker({ redis: redis.url });
    const listener = new RedisBroker({ redis: redis.url });
    try {
      const heard: TopicMessage[] = [];
      await listener.subscribe('reborn', (m) => heard.push(m));
      const first = await publisher.publish('reborn', 'test.Event', '1');
      await eventually(() => expect(heard).toHaveLength(1));
      const subscriber = (listener as unknown as { subscriber: { status: string; disconnect(reconnect: boolean): void; connect(): Promise<void> } })
        .subscriber;
      subscriber.disconnect(false);
      await eventually(() => expect(subscriber.status).toBe('end'));
      await (publisher as unknown as { client: { flushall(): Promise<unknown> } }).client.flushall();
      const reborn = await publisher.publish('reborn', 'test.Event', '2');
      expect(reborn.epoch).not.toBe(first.epoch);
      await subscriber.connect();
      await eventually(() => expect(heard.map((m) => [m.epoch, m.offset, m.body])).toEqual([[first.epoch, 1, '1'], [reborn.epoch, 1, '2']]));
    } finally {
      await Promise.all([publisher.close(), listener.close()]);
    }
  });

  it('fills a gap a listener missed on its channel from the stream, in order', async () => {
    const publisher = new RedisBroker({ redis: redis.url });
    const listener = new RedisBroker({ redis: redis.url });
    try {
      const heard: number[] = [];
      await listener.subscribe('gap', (m) => heard.push(m.offset));
      await publisher.publish('gap', 'test.Event', '1');
      await eventually(() => expect(heard).toEqual([1]));
      // Drop the listener's subscriber connection; publishes go on meanwhile.
      (listener as unknown as { subscriber: { disconnect(reconnect: boolean): void } }).subscriber.disconnect(true);
      for (let i = 2; i <= 6; i++) await publisher.publish('gap', 'test.Event', String(i));
      await eventually(() => expect(heard).toEqual([1, 2, 3, 4, 5, 6]));
      await publisher.publish('gap', 'test.Event', '7');
      await eventually(() => expect(heard).toEqual([1, 2, 3, 4, 5, 6, 7]));
    } finally {
      await Promise.all([publisher.close(), listener.close()]);
    }
  });
});
