import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { TopicMessage } from './broker.ts';
import { defineContract } from './contract.ts';
import type { NotificationMessage } from './envelope.ts';
import { IdempotencyWindow } from './idempotency.ts';
import { MemoryBroker } from './memory-broker.ts';
import { createHerald } from './server.ts';
import { connectMemory, ManualClock } from './testing/index.ts';

describe('IdempotencyWindow', () => {
  const v = (n: number) => ({ n });

  it('remembers a key for the window, then forgets it, and never holds more than maxKeys', () => {
    let now = 0;
    const window = new IdempotencyWindow<{ n: number }>(1000, () => now, 3);
    window.remember('t', 'a', v(1));
    now = 999;
    expect(window.get('t', 'a')).toEqual(v(1));
    now = 1000;
    expect(window.get('t', 'a')).toBeUndefined();
    for (const [i, key] of ['b', 'c', 'd', 'e'].entries()) window.remember('t', key, v(i));
    expect(window.size).toBe(3);
    expect(window.get('t', 'b')).toBeUndefined();
    expect(window.get('t', 'e')).toEqual(v(3));
  });

  it('keeps keys apart per scope, and counts them across scopes', () => {
    const window = new IdempotencyWindow<{ n: number }>(1000, () => 0, 3);
    window.remember('room/a', 'k', v(1));
    window.remember('room/b', 'k', v(2));
    expect([window.get('room/a', 'k'), window.get('room/b', 'k'), window.get('room/c', 'k')]).toEqual([v(1), v(2), undefined]);
    // A scope's key is not another's joined with it.
    expect(window.get('room/a\nk', '')).toBeUndefined();
    window.remember('room/c', 'k', v(3));
    window.remember('room/c', 'l', v(4));
    expect(window.size).toBe(3);
    expect(window.get('room/a', 'k')).toBeUndefined();
    window.forget('room/b', 'k');
    window.forget('room/b', 'k');
    expect(window.size).toBe(2);
  });

  it('keeps a key remembered again until its own window ends, and evicts by first use across many keys', () => {
    let now = 0;
    const window = new IdempotencyWindow<{ n: number }>(1000, () => now, 2000);
    window.remember('t', 'a', v(1));
    now = 500;
    window.remember('t', 'a', v(2));
    now = 1200;
    // The first entry of a expired; the second, from 500, still holds.
    expect(window.get('t', 'a')).toEqual(v(2));
    now = 1500;
    expect(window.get('t', 'a')).toBeUndefined();
    // Far past maxKeys (and past the order's compaction): exactly the newest 2000 stay.
    const scope = (i: number) => `s${i % 7}`;
    for (let i = 0; i < 10_000; i++) window.remember(scope(i), `k${i}`, v(i));
    expect(window.size).toBe(2000);
    expect([window.get(scope(7999), 'k7999'), window.get(scope(8000), 'k8000'), window.get(scope(9999), 'k9999')]).toEqual([undefined, v(8000), v(9999)]);
    window.forget(scope(9999), 'k9999');
    expect(window.get(scope(9999), 'k9999')).toBeUndefined();
  });
});

describe('MemoryBroker publish with an idempotencyKey', () => {
  it('publishes once per key and topic within the window: a retry gets the first position and delivers nothing', async () => {
    let now = 0;
    const broker = new MemoryBroker({ now: () => now, idempotencyWindowMs: 60_000 });
    const seen: TopicMessage[] = [];
    await broker.subscribe('room/a', (message) => seen.push(message));
    const first = await broker.publish('room/a', 'test.Note', '{"n":1}', 'order-1');
    expect(await broker.publish('room/a', 'test.Note', '{"n":1}', 'order-1')).toEqual(first);
    // The key is per topic, and a publish without a key is never held back.
    await broker.publish('room/b', 'test.Note', '{"n":1}', 'order-1');
    await broker.publish('room/a', 'test.Note', '{"n":2}');
    await broker.publish('room/a', 'test.Note', '{"n":2}');
    expect(seen.map((message) => [message.offset, message.body])).toEqual([
      [1, '{"n":1}'],
      [2, '{"n":2}'],
      [3, '{"n":2}'],
    ]);
    now = 60_000;
    expect(await broker.publish('room/a', 'test.Note', '{"n":1}', 'order-1')).toEqual({ epoch: first.epoch, offset: 4 });
  });

  it('refuses a window that is not a positive number of milliseconds', () => {
    expect(() => new MemoryBroker({ idempotencyWindowMs: 0 })).toThrow(RangeError);
    expect(() => new MemoryBroker({ idempotencyWindowMs: Number.NaN })).toThrow(RangeError);
  });
});

const contract = defineContract({ requests: {}, notifications: { 'test.Note': { body: z.object({ n: z.number() }) } } });

describe('Herald publish and sendToUser with an idempotencyKey', () => {
  const herald = () => createHerald({ contract, handlers: {}, clock: new ManualClock(), authenticate: (token) => ({ userId: token }) });
  const notes = (received: readonly unknown[]) =>
    (received as NotificationMessage[]).filter((message) => message.type === 'test.Note').map((message) => (message.body as { n: number }).n);

  it('sends to a user once per key, to each of their sessions', async () => {
    const server = herald();
    const sockets = [await connectMemory(server, { authorization: 'Bearer ann' }), await connectMemory(server, { authorization: 'Bearer ann' })];
    for (const socket of sockets) (socket.connection as unknown as { session: { settle(): void } }).session.settle();
    await server.sendToUser('ann', 'test.Note', { n: 1 }, { idempotencyKey: 'k1' });
    await server.sendToUser('ann', 'test.Note', { n: 1 }, { idempotencyKey: 'k1' });
    await server.sendToUser('bob', 'test.Note', { n: 1 }, { idempotencyKey: 'k1' });
    await server.sendToUser('ann', 'test.Note', { n: 2 }, { idempotencyKey: 'k2' });
    await new Promise((resolve) => setImmediate(resolve));
    for (const socket of sockets) expect(notes(socket.received)).toEqual([1, 2]);
    await server.close();
  });

  it('forgets the key of a send that failed, so its retry goes out', async () => {
    let failures = 1;
    class FlakyBroker extends MemoryBroker {
      override sendDirect(channel: string, payload: string): Promise<void> {
        if (failures-- > 0) return Promise.reject(new Error('broker down'));
        return super.sendDirect(channel, payload);
      }
    }
    const server = createHerald({ contract, handlers: {}, broker: new FlakyBroker(), clock: new ManualClock(), authenticate: (token) => ({ userId: token }) });
    const socket = await connectMemory(server, { authorization: 'Bearer ann' });
    (socket.connection as unknown as { session: { settle(): void } }).session.settle();
    await expect(server.sendToUser('ann', 'test.Note', { n: 1 }, { idempotencyKey: 'k1' })).rejects.toThrow('broker down');
    await server.sendToUser('ann', 'test.Note', { n: 1 }, { idempotencyKey: 'k1' });
    await server.sendToUser('ann', 'test.Note', { n: 1 }, { idempotencyKey: 'k1' });
    await new Promise((resolve) => setImmediate(resolve));
    expect(notes(socket.received)).toEqual([1]);
    await server.close();
  });

  it('passes the key to the broker, and refuses a key that is empty, too long or not a string', async () => {
    const broker = new MemoryBroker();
    const server = createHerald({ contract, handlers: {}, broker });
    const first = await server.publish('room/a', 'test.Note', { n: 1 }, { idempotencyKey: 'once' });
    expect(await server.broadcast('test.Note', { n: 1 }, { idempotencyKey: 'once' })).not.toEqual(first);
    expect(await server.publish('room/a', 'test.Note', { n: 1 }, { idempotencyKey: 'once' })).toEqual(first);
    expect((await broker.position('room/a')).offset).toBe(1);
    for (const idempotencyKey of ['', 'x'.repeat(257), 42 as unknown as string]) {
      expect(() => server.publish('room/a', 'test.Note', { n: 1 }, { idempotencyKey })).toThrow(TypeError);
      expect(() => server.sendToUser('ann', 'test.Note', { n: 1 }, { idempotencyKey })).toThrow(TypeError);
    }
    await server.close();
  });
});
