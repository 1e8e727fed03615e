import type { PresenceChange } from '@herald/core';
import { eventually } from '@herald/testing';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RedisPresence, type RedisPresenceOptions } from './presence.ts';
import { startRedis, type RedisServer } from './testing/redis-server.ts';

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis.stop();
});

const open: RedisPresence[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((store) => store.close()));
});

let prefixes = 0;
function nodes(count: number, options: RedisPresenceOptions = {}): { stores: RedisPresence[]; told: Array<[string, string, PresenceChange]> } {
  const prefix = `presence${++prefixes}:`;
  const told: Array<[string, string, PresenceChange]> = [];
  const stores = Array.from({ length: count }, () => {
    const store = new RedisPresence({ redis: redis.url, prefix, ...options });
    store.attach((topic, userId, change) => told.push([topic, userId, change]));
    open.push(store);
    return store;
  });
  return { stores, told };
}

describe('RedisPresence', () => {
  it('makes a user one member across sessions and nodes: joined on the first, left on the last', async () => {
    const {
      stores: [a, b],
    } = nodes(2);
    if (a === undefined || b === undefined) throw new Error('two nodes');
    expect(await a.join('room/1', 'ann', 's1')).toEqual({ member: 'joined', current: { userId: 'ann', connections: 1 }, occupied: true, vacated: false });
    expect(await b.join('room/1', 'ann', 's2')).toMatchObject({ member: undefined, current: { connections: 2 }, occupied: false });
    expect(await b.join('room/1', 'ann', 's2')).toMatchObject({ member: undefined });
    expect(await b.join('room/1', 'bob', 's3')).toMatchObject({ member: 'joined', occupied: false });
    expect(await a.update('room/1', 'ann', 's1', { status: 'away' })).toMatchObject({ member: 'updated', current: { state: { status: 'away' } } });
    expect(await b.members('room/1', undefined, 10)).toEqual({
      members: [
        { userId: 'ann', state: { status: 'away' }, connections: 2 },
        { userId: 'bob', connections: 1 },
      ],
      count: 2,
    });
    expect(await a.members('room/1', undefined, 1)).toMatchObject({ members: [{ userId: 'ann' }], next: 'ann', count: 2 });
    expect(await a.members('room/1', 'ann', 1)).toMatchObject({ members: [{ userId: 'bob' }], count: 2 });
    expect(await a.leave('room/1', 'ann', 's1')).toMatchObject({ member: undefined, current: { connections: 1 } });
    expect(await b.leave('room/1', 'ann', 's2')).toEqual({ member: 'left', occupied: false, vacated: false });
    expect(await b.leave('room/1', 'ann', 's2')).toEqual({ member: undefined, occupied: false, vacated: false });
    expect(await b.leave('room/1', 'bob', 's3')).toEqual({ member: 'left', occupied: false, vacated: true });
    expect(await a.count('room/1')).toBe(0);
  });

  it("reaps a dead node's members within its timeout, telling a live node, and only sessions still its own", async () => {
    const { stores, told } = nodes(2, { nodeTimeoutMs: 600 });
    const [a, b] = stores as [RedisPresence, RedisPresence];
    await a.join('room/2', 'ann', 's1');
    await a.join('room/2', 'cat', 's4');
    await b.join('room/2', 'bob', 's2');
    // cat's session resumed on b: it is b's now.
    await b.join('room/2', 'cat', 's4');
    const died = Date.now();
    await a.close();
    await eventually(() => expect(told.map(([, userId, change]) => [userId, change.member])).toEqual([['ann', 'left']]), 20_000);
    const reapedInMs = Date.now() - died;
    console.log(`dead node's member reaped in ${reapedInMs} ms (timeout 600 ms)`);
    expect(await b.members('room/2', undefined, 10)).toMatchObject({ members: [{ userId: 'bob' }, { userId: 'cat' }], count: 2 });
  });

  it('announces its members again to a Redis that restarted empty', async () => {
    const { stores, told } = nodes(1, { nodeTimeoutMs: 600 });
    const [a] = stores as [RedisPresence];
    await a.join('room/3', 'ann', 's1');
    const admin = new Redis(redis.url);
    await admin.flushall();
    admin.disconnect();
    await eventually(async () => expect(await a.count('room/3')).toBe(1), 20_000);
    expect(told.map(([topic, userId, change]) => [topic, userId, change.member])).toEqual([['room/3', 'ann', 'joined']]);
  });
});
