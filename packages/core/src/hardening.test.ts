/**
 * Abuse and race cases found in review: each test failed before its fix. A slow broker makes
 * the awaits inside subscribe real, as a Redis broker's would be.
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { StreamPosition, TopicHistory } from './index.ts';
import { createHerald, defineContract, MemoryBroker, type Envelope, type Herald, type HeraldOptions, type NotificationMessage, type ResponseMessage } from './index.ts';
import { ManualClock, MemorySocket, upgradeRequest } from './testing/index.ts';

const contract = defineContract({
  requests: {
    'test.Tags': { request: z.object({ tags: z.array(z.string()) }), response: z.object({ n: z.number() }) },
    'test.Big': { request: z.object({ kib: z.number() }), response: z.object({ data: z.string() }) },
  },
  notifications: { 'test.Said': { body: z.object({ n: z.number() }) } },
});

/** A MemoryBroker whose lookups take a few event-loop turns, like a network round trip. */
class SlowBroker extends MemoryBroker {
  override async position(topic: string): Promise<StreamPosition> {
    await new Promise((resolve) => setTimeout(resolve, 5));
    return super.position(topic);
  }

  override async history(topic: string, since: StreamPosition): Promise<TopicHistory> {
    await new Promise((resolve) => setTimeout(resolve, 5));
    return super.history(topic, since);
  }
}

function server(options: Partial<HeraldOptions<typeof contract>> = {}): Herald<typeof contract> {
  return createHerald({
    contract,
    handlers: { 'test.Tags': ({ tags }) => ({ n: tags.length }), 'test.Big': ({ kib }) => ({ data: 'x'.repeat(kib * 1024) }) },
    clock: new ManualClock(),
    authenticate: (token) => ({ userId: token }),
    canSubscribe: () => true,
    subscribeToBroadcast: false,
    limits: { pingIntervalMs: 3_600_000 },
    ...options,
  });
}

async function connect(herald: Herald<any>, user = 'alice'): Promise<MemorySocket> {
  const socket = new MemorySocket();
  const decision = await herald.upgrade(upgradeRequest({ authorization: `Bearer ${user}` }));
  if (!decision.ok) throw new Error(decision.body.message);
  socket.connection = herald.open(socket, decision);
  return socket;
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 40));
const responses = (socket: MemorySocket) => socket.received.filter((e): e is ResponseMessage => e.kind === 'resp');
const offsets = (socket: MemorySocket, topic: string) =>
  socket.received.filter((e): e is NotificationMessage => e.kind === 'notification' && e.topic === topic).map((e) => e.offset);

describe('hardening', () => {
  it('caps the issues of a validation failure, so a small frame cannot earn a huge answer', async () => {
    const herald = server();
    const socket = await connect(herald);
    socket.deliver({ kind: 'req', id: 'big', type: 'test.Tags', body: { tags: Array.from({ length: 5000 }, () => 0) } });
    await settle();
    const [answer] = responses(socket);
    expect(answer).toMatchObject({ code: 400, body: { error: 'validation_failed', message: 'body does not match test.Tags (first 10 of 5000 issues)' } });
    expect((answer?.body as { issues: unknown[] }).issues).toHaveLength(10);
    expect(JSON.stringify(answer).length).toBeLessThan(2000);
  });

  it('answers a re-subscribe to a live topic without dropping anything published meanwhile', async () => {
    const herald = server({ broker: new SlowBroker() });
    const socket = await connect(herald);
    socket.deliver({ kind: 'req', id: 's1', type: 'herald.Subscribe', body: { topic: 'room/a' } });
    await settle();
    socket.deliver({ kind: 'req', id: 's2', type: 'herald.Subscribe', body: { topic: 'room/a' } });
    await herald.publish('room/a', 'test.Said', { n: 1 });
    await herald.publish('room/a', 'test.Said', { n: 2 });
    await settle();
    expect(offsets(socket, 'room/a')).toEqual([1, 2]);
    expect(responses(socket).map((r) => r.reqId)).toEqual(['s1', 's2']);
  });

  it('answers both of two overlapping subscribes to one topic, and loses nothing', async () => {
    const herald = server({ broker: new SlowBroker() });
    const socket = await connect(herald);
    socket.deliver({ kind: 'req', id: 's1', type: 'herald.Subscribe', body: { topic: 'room/b' } });
    socket.deliver({ kind: 'req', id: 's2', type: 'herald.Subscribe', body: { topic: 'room/b' } });
    await herald.publish('room/b', 'test.Said', { n: 1 });
    await settle();
    await herald.publish('room/b', 'test.Said', { n: 2 });
    await settle();
    expect(responses(socket).map((r) => [r.reqId, r.code])).toEqual([
      ['s1', 200],
      ['s2', 200],
    ]);
    const announced = (responses(socket)[0]?.body as { offset: number }).offset;
    expect(offsets(socket, 'room/b')).toEqual([1, 2].filter((o) => o > announced));
  });

  it('holds maxSubscriptions even when canSubscribe answers late for many requests at once', async () => {
    const herald = server({ limits: { maxSubscriptions: 5, pingIntervalMs: 3_600_000 }, canSubscribe: () => new Promise((resolve) => setTimeout(() => resolve(true), 5)) });
    const socket = await connect(herald);
    for (let i = 0; i < 20; i++) socket.deliver({ kind: 'req', id: `s${i}`, type: 'herald.Subscribe', body: { topic: `room/${i}` } });
    await settle();
    const codes = responses(socket).map((r) => r.code);
    expect(codes.filter((c) => c === 200)).toHaveLength(5);
    expect(codes.filter((c) => c === 429)).toHaveLength(15);
  });

  it('refuses a second resume on the same connection with 409', async () => {
    const herald = server();
    const first = await connect(herald, 'alice');
    const other = await connect(herald, 'alice');
    const welcome = (s: MemorySocket) => (s.received[0] as NotificationMessage<string, { sessionId: string }>).body?.sessionId as string;
    const fresh = await connect(herald, 'alice');
    fresh.deliver({ kind: 'req', id: 'r1', type: 'herald.Resume', body: { sessionId: welcome(first), seq: 0 } });
    await settle();
    fresh.deliver({ kind: 'req', id: 'r2', type: 'herald.Resume', body: { sessionId: welcome(other), seq: 0 } });
    await settle();
    expect(responses(fresh).map((r) => [r.reqId, r.code])).toEqual([
      ['r1', 200],
      ['r2', 409],
    ]);
    expect(other.closedWith).toBeUndefined();
  });

  it('keeps a topic named __proto__ in the resume answer', async () => {
    const herald = server();
    const socket = await connect(herald);
    // raw JSON: in an object literal `__proto__` would set the prototype instead of a key
    socket.deliver(`{"kind":"req","id":"r","type":"herald.Resume","body":{"sessionId":"${'x'.repeat(22)}","seq":0,"topics":{"__proto__":{"epoch":"e","offset":0}}}}`);
    await settle();
    const body = responses(socket)[0]?.body as { topics: Record<string, unknown> };
    expect(Object.keys(body.topics)).toEqual(['__proto__']);
  });

  it('refuses a malformed Authorization header with 400 validation_failed, a rejected token with 401 (PROTOCOL.md §10)', async () => {
    const herald = server({ authenticate: (token) => (token === 'good' ? { userId: 'alice' } : null) });
    for (const authorization of ['Bearer', 'garbage', 'Basic dXNlcjpwdw==', 'Bearer a b', 'Bearer ' + 'x'.repeat(5000), 'Bearer tok\u00e9n']) {
      const decision = await herald.upgrade(upgradeRequest({ authorization }));
      expect(decision, authorization.slice(0, 20)).toMatchObject({ ok: false, status: 400, body: { error: 'validation_failed' } });
    }
    expect(await herald.upgrade(upgradeRequest({ authorization: 'Bearer nope' }))).toMatchObject({ ok: false, status: 401, body: { error: 'invalid_token' } });
    expect(await herald.upgrade(upgradeRequest({ authorization: 'Bearer good' }))).toMatchObject({ ok: true });
  });

  it('tells a rate-limited client the real wait, and refills between sweeps', async () => {
    const clock = new ManualClock();
    const herald = server({ clock, limits: { rateLimit: { messagesPerSecond: 10, burst: 2 }, pingIntervalMs: 3_600_000 } });
    const socket = await connect(herald);
    for (const id of ['a', 'b', 'c']) socket.deliver({ kind: 'req', id, type: 'test.Tags', body: { tags: [] } });
    await settle();
    const limited = responses(socket).find((r) => r.code === 429);
    expect(limited).toMatchObject({ reqId: 'c', type: 'test.Tags', body: { error: 'rate_limited', retryAfterMs: 100 } });
    clock.advance(100);
    socket.deliver({ kind: 'req', id: 'c', type: 'test.Tags', body: { tags: [] } });
    await settle();
    expect(responses(socket).at(-1)).toMatchObject({ reqId: 'c', code: 200 });
  });

  it('bounds the retry cache in bytes: the oldest answers go first', async () => {
    const herald = server();
    const socket = await connect(herald);
    for (let i = 0; i < 4; i++) socket.deliver({ kind: 'req', id: `r${i}`, type: 'test.Big', body: { kib: 400 } });
    await settle();
    expect(responses(socket).map((r) => r.code)).toEqual([200, 200, 200, 200]);
    const session = (socket.connection as unknown as { session: { dedup: { size: number } } }).session;
    expect(session.dedup.size).toBeGreaterThanOrEqual(1);
    expect(session.dedup.size).toBeLessThanOrEqual(2);
    socket.deliver({ kind: 'req', id: 'r3', type: 'test.Big', body: { kib: 400 } });
    await settle();
    expect(responses(socket)).toHaveLength(5);
  });
  it('catches a held-back subscriber up on the sweep when its transport reports no drain', async () => {
    const clock = new ManualClock();
    const herald = server({ clock, highWaterMark: 1000 });
    const socket = await connect(herald);
    socket.deliver({ kind: 'req', id: 's', type: 'herald.Subscribe', body: { topic: 'room/d' } });
    await settle();
    socket.bufferedAmount = 5000;
    for (let n = 1; n <= 3; n++) await herald.publish('room/d', 'test.Said', { n });
    expect(offsets(socket, 'room/d')).toEqual([]);
    socket.bufferedAmount = 0;
    clock.advance(1000);
    await settle();
    expect(offsets(socket, 'room/d')).toEqual([1, 2, 3]);
  });
});
