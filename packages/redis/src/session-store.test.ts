import { createHerald, defineContract, type Envelope, type Herald, type StoredNotification, type NotificationMessage, type ResponseMessage } from '@herald/core';
import { connectMemory, type MemorySocket } from '@herald/core/testing';
import { eventually } from '@herald/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { z } from 'zod';
import { startRedis, type RedisServer } from './testing/redis-server.ts';
import { RedisBroker } from './broker.ts';
import { RedisSessionStore } from './session-store.ts';

const contract = defineContract({
  requests: {
    'test.Run': { request: z.object({ key: z.string(), waitMs: z.number().optional() }), response: z.object({ runs: z.number() }) },
    'test.Notify': { request: z.object({ n: z.number() }), response: z.object({}) },
  },
  notifications: { 'test.Note': { body: z.object({ n: z.number() }) } },
});

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis.stop();
});

const runs = new Map<string, number>();
const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

interface NodeOptions {
  readonly nodeTimeoutMs?: number;
  /** Drops live notifications from the store's channel for which it returns true (a lossy pub/sub). */
  readonly drop?: (notification: StoredNotification) => boolean;
}

async function node({ drop, ...options }: NodeOptions = {}): Promise<{ herald: Herald<typeof contract>; store: RedisSessionStore }> {
  const store = new RedisSessionStore({ redis: redis.url, ...options });
  if (drop !== undefined) {
    const attach = store.attach.bind(store);
    store.attach = (listener, limits) =>
      attach({ ...listener, notification: (sessionId, notification) => drop(notification) || listener.notification(sessionId, notification) }, limits);
  }
  const broker = new RedisBroker({ redis: redis.url });
  await store.ready;
  const herald = createHerald({
    contract,
    broker,
    sessionStore: store,
    authenticate: (token) => ({ userId: token }),
    onError: () => {},
    handlers: {
      'test.Run': async ({ key, waitMs }) => {
        const count = (runs.get(key) ?? 0) + 1;
        runs.set(key, count);
        if (waitMs !== undefined) await new Promise((resolve) => setTimeout(resolve, waitMs));
        return { runs: count };
      },
      'test.Notify': ({ n }, ctx) => {
        ctx.notify('test.Note', { n });
        return {};
      },
    },
  });
  closers.push(async () => {
    await herald.close();
    await store.close();
    await broker.close();
  });
  return { herald, store };
}


const notes = (socket: MemorySocket) =>
  socket.received.filter((m): m is NotificationMessage => m.kind === 'notification' && m.type === 'test.Note').map((m) => [m.seq, (m.body as { n: number }).n]);
const answer = (socket: MemorySocket, id: string) => socket.received.findLast((m): m is ResponseMessage => m.kind === 'resp' && m.reqId === id);
const welcome = (socket: MemorySocket) => (socket.received[0] as Envelope & { body: { sessionId: string } }).body.sessionId;

async function open(herald: Herald<typeof contract>, user: string): Promise<MemorySocket> {
  const socket = await connectMemory(herald, { authorization: `Bearer ${user}` });
  socket.deliver({ kind: 'req', id: 'hello', type: 'herald.Unsubscribe', body: { topic: 'none' } });
  await eventually(() => expect(answer(socket, 'hello')).toBeDefined());
  // Send-to-user reaches the sessions Redis knows of: wait until this one is recorded there.
  const check = new Redis(redis.url);
  await eventually(async () => expect(await check.sismember(`herald:u:${user}`, welcome(socket))).toBe(1), 20_000);
  check.disconnect();
  return socket;
}

describe('RedisSessionStore', () => {
  it('numbers private notifications in Redis and delivers send-to-user from any node to the owner', async () => {
    const a = await node();
    const b = await node();
    const socket = await open(a.herald, 'ann');
    socket.deliver({ kind: 'req', id: '1', type: 'test.Notify', body: { n: 1 } });
    await eventually(() => expect(notes(socket)).toEqual([[1, 1]]));
    await b.herald.sendToUser('ann', 'test.Note', { n: 2 });
    await b.herald.sendToUser('ann', 'test.Note', { n: 3 });
    await eventually(() => expect(notes(socket)).toEqual([[1, 1], [2, 2], [3, 3]]));
  });

  it('sends to a user once per idempotency key, whichever nodes the retries go through, and forgets the key after its window', async () => {
    const a = await node();
    const b = await node();
    const windowed = new RedisSessionStore({ redis: redis.url, idempotencyWindowMs: 300 });
    closers.push(() => windowed.close());
    const socket = await open(a.herald, 'gus');
    await Promise.all([
      a.herald.sendToUser('gus', 'test.Note', { n: 1 }, { idempotencyKey: 'k1' }),
      b.herald.sendToUser('gus', 'test.Note', { n: 1 }, { idempotencyKey: 'k1' }),
    ]);
    await b.herald.sendToUser('gus', 'test.Note', { n: 1 }, { idempotencyKey: 'k1' });
    await b.herald.sendToUser('gus', 'test.Note', { n: 2 });
    await windowed.notifyUser('gus', 'test.Note', '{"n":3}', 'k3');
    await windowed.notifyUser('gus', 'test.Note', '{"n":3}', 'k3');
    await new Promise((resolve) => setTimeout(resolve, 400));
    await windowed.notifyUser('gus', 'test.Note', '{"n":4}', 'k3');
    await eventually(() => expect(notes(socket)).toEqual([[1, 1], [2, 2], [3, 3], [4, 4]]));
  });

  it('resumes a session on another node with every notification after the client seq, and takes it from the old node', async () => {
    const a = await node();
    const b = await node();
    const first = await open(a.herald, 'bob');
    const sessionId = welcome(first);
    await b.herald.sendToUser('bob', 'test.Note', { n: 1 });
    await eventually(() => expect(notes(first)).toEqual([[1, 1]]));
    first.deliver({ kind: 'ack', seq: 1 });
    first.drop();
    await b.herald.sendToUser('bob', 'test.Note', { n: 2 });
    await b.herald.sendToUser('bob', 'test.Note', { n: 3 });

    const second = await connectMemory(b.herald, { authorization: 'Bearer bob' });
    second.deliver({ kind: 'req', id: 'r', type: 'herald.Resume', body: { sessionId, seq: 1 } });
    await eventually(() => expect(answer(second, 'r')?.body).toMatchObject({ sessionId, recovered: true }));
    await eventually(() => expect(notes(second)).toEqual([[2, 2], [3, 3]]));
    await a.herald.sendToUser('bob', 'test.Note', { n: 4 });
    await eventually(() => expect(notes(second)).toEqual([[2, 2], [3, 3], [4, 4]]));
    expect(a.herald.stats.sessions).toBe(0);

    // Back to the first node, from seq 2: the mailbox still holds 3 and 4.
    const third = await connectMemory(a.herald, { authorization: 'Bearer bob' });
    third.deliver({ kind: 'req', id: 'r', type: 'herald.Resume', body: { sessionId, seq: 2 } });
    await eventually(() => expect(answer(third, 'r')?.body).toMatchObject({ sessionId, recovered: true }));
    await eventually(() => expect(notes(third)).toEqual([[3, 3], [4, 4]]));
    await eventually(() => expect(second.closedWith?.code).toBe(4409));
  });

  it('says recovered: false when the mailbox no longer reaches back, and refuses another user', async () => {
    const a = await node();
    const b = await node();
    const first = await open(a.herald, 'cy');
    const sessionId = welcome(first);
    for (let n = 1; n <= 3; n++) await b.herald.sendToUser('cy', 'test.Note', { n });
    await eventually(() => expect(notes(first)).toHaveLength(3));
    first.deliver({ kind: 'ack', seq: 3 });
    await eventually(async () => expect(await b.store.read(sessionId, 0)).toEqual([]));
    first.drop();

    const other = await connectMemory(b.herald, { authorization: 'Bearer eve' });
    other.deliver({ kind: 'req', id: 'r', type: 'herald.Resume', body: { sessionId, seq: 0 } });
    await eventually(() => expect(answer(other, 'r')?.body).toMatchObject({ recovered: false }));
    expect((answer(other, 'r')?.body as { sessionId: string }).sessionId).not.toBe(sessionId);

    const again = await connectMemory(b.herald, { authorization: 'Bearer cy' });
    again.deliver({ kind: 'req', id: 'r', type: 'herald.Resume', body: { sessionId, seq: 1 } });
    await eventually(() => expect(answer(again, 'r')?.body).toMatchObject({ sessionId, recovered: false }));
  });

  it('answers a retry on another node from the stored answer, and a retry of a request lost with its node with outcome_unknown', async () => {
    const a = await node();
    const b = await node();
    const first = await open(a.herald, 'dee');
    const sessionId = welcome(first);
    first.deliver({ kind: 'req', id: 'q1', type: 'test.Run', body: { key: 'dee-q1' } });
    await eventually(() => expect(answer(first, 'q1')?.body).toEqual({ runs: 1 }));
    // Still running on A when the client moves to B: B waits for A's answer.
    first.deliver({ kind: 'req', id: 'q2', type: 'test.Run', body: { key: 'dee-q2', waitMs: 300 } });
    first.drop();
    const second = await connectMemory(b.herald, { authorization: 'Bearer dee' });
    second.deliver({ kind: 'req', id: 'r', type: 'herald.Resume', body: { sessionId, seq: 0 } });
    await eventually(() => expect(answer(second, 'r')).toBeDefined());
    second.deliver({ kind: 'req', id: 'q1', type: 'test.Run', body: { key: 'dee-q1' } });
    second.deliver({ kind: 'req', id: 'q2', type: 'test.Run', body: { key: 'dee-q2', waitMs: 300 } });
    await eventually(() => expect([answer(second, 'q1')?.body, answer(second, 'q2')?.body]).toEqual([{ runs: 1 }, { runs: 1 }]));
    expect([runs.get('dee-q1'), runs.get('dee-q2')]).toEqual([1, 1]);

    // A node that stops while running a request: its claim stays, its heartbeat stops.
    const doomed = new RedisSessionStore({ redis: redis.url, nodeTimeoutMs: 200 });
    await doomed.ready;
    expect(await doomed.beginRequest(sessionId, 'q3', 'test.Run')).toEqual({ state: 'new' });
    await doomed.close();
    second.deliver({ kind: 'req', id: 'q3', type: 'test.Run', body: { key: 'dee-q3' } });
    await eventually(() => expect(answer(second, 'q3')).toMatchObject({ code: 409, body: { error: 'outcome_unknown' } }));
    expect(runs.get('dee-q3')).toBeUndefined();
    second.deliver({ kind: 'req', id: 'q1', type: 'test.Notify', body: { n: 1 } });
    await eventually(() => expect(answer(second, 'q1')).toMatchObject({ code: 409, body: { error: 'id_conflict' } }));
  });
});

describe('resume under a slow store', () => {
  it('delivers the claimed mailbox and what follows when the claim returns after the new session settled', async () => {
    const a = await node();
    const b = await node();
    const first = await open(a.herald, 'fay');
    const sessionId = welcome(first);
    await a.herald.sendToUser('fay', 'test.Note', { n: 1 });
    await eventually(() => expect(notes(first)).toEqual([[1, 1]]));
    first.deliver({ kind: 'ack', seq: 1 });
    first.drop();
    await a.herald.sendToUser('fay', 'test.Note', { n: 2 });
    await a.herald.sendToUser('fay', 'test.Note', { n: 3 });

    // A busy node: its claim comes back after the new session settled on its own (1 s after it opened).
    const claim = b.store.claim.bind(b.store);
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    b.store.claim = async (...args) => {
      const claimed = await claim(...args);
      await released;
      return claimed;
    };
    const second = await connectMemory(b.herald, { authorization: 'Bearer fay' });
    second.deliver({ kind: 'req', id: 'r', type: 'herald.Resume', body: { sessionId, seq: 1 } });
    await new Promise((resolve) => setTimeout(resolve, 2500));
    release();
    await eventually(() => expect(answer(second, 'r')?.body).toMatchObject({ sessionId, recovered: true }));
    await eventually(() => expect(notes(second)).toEqual([[2, 2], [3, 3]]));
    // The replay comes before the answer, as for a resume that did not wait (PROTOCOL.md §5).
    const order = second.received.map((m) => (m.kind === 'resp' ? 'answer' : m.kind === 'notification' && m.seq !== undefined ? m.seq : undefined));
    expect(order.filter((x) => x !== undefined)).toEqual([2, 3, 'answer']);
    await a.herald.sendToUser('fay', 'test.Note', { n: 4 });
    await eventually(() => expect(notes(second)).toEqual([[2, 2], [3, 3], [4, 4]]));
  });
});

describe('a lossy live path', () => {
  it('delivers, in order and within the refresh period, notifications the channel dropped, also when nothing follows them', async () => {
    const a = await node({ drop: (notification) => notification.seq % 3 === 2 || notification.seq === 6 });
    const b = await node();
    const socket = await open(a.herald, 'gus');
    for (let n = 1; n <= 6; n++) await b.herald.sendToUser('gus', 'test.Note', { n });
    await eventually(() => expect(notes(socket)).toEqual([1, 2, 3, 4, 5, 6].map((n) => [n, n])), 15_000);
  });
});

describe('a store that lost its records', () => {
  it('never runs a request again after Redis lost its record (restarted empty): a retry waiting on another node is answered outcome_unknown, and the session is closed with 4500', async () => {
    const a = await node();
    const b = await node();
    const first = await open(a.herald, 'fay');
    const sessionId = welcome(first);
    // Still running on A (a long handler) when the client moves to B: B polls the claim.
    first.deliver({ kind: 'req', id: 'q1', type: 'test.Run', body: { key: 'fay-q1', waitMs: 8000 } });
    await eventually(() => expect(runs.get('fay-q1')).toBe(1));
    first.drop();
    const second = await connectMemory(b.herald, { authorization: 'Bearer fay' });
    second.deliver({ kind: 'req', id: 'r', type: 'herald.Resume', body: { sessionId, seq: 0 } });
    await eventually(() => expect(answer(second, 'r')?.body).toMatchObject({ sessionId, recovered: true }));
    second.deliver({ kind: 'req', id: 'q1', type: 'test.Run', body: { key: 'fay-q1', waitMs: 8000 } });
    const admin = new Redis(redis.url);
    // B is waiting on A's claim: now Redis loses everything, the claim and the session with it.
    await eventually(async () => expect(await admin.exists(`herald:s:${sessionId}:r:q1`)).toBe(1));
    await admin.flushall();
    admin.disconnect();
    await eventually(() => expect(answer(second, 'q1') ?? second.closedWith).toBeDefined(), 20_000);
    expect(runs.get('fay-q1')).toBe(1);
    expect(answer(second, 'q1')).toMatchObject({ code: 409, body: { error: 'outcome_unknown' } });
    // A new id of the same session does not run either: its record could have been lost too.
    second.deliver({ kind: 'req', id: 'q2', type: 'test.Run', body: { key: 'fay-q2' } });
    await eventually(() => expect(answer(second, 'q2')).toMatchObject({ code: 409, body: { error: 'outcome_unknown' } }));
    expect(runs.get('fay-q2')).toBeUndefined();
    await eventually(() => expect(second.closedWith?.code).toBe(4500), 20_000);
  }, 60_000);
});
