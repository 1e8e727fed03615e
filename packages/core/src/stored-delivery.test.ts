import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineContract } from './contract.ts';
import type { NotificationMessage, WelcomeBody } from './envelope.ts';
import { createHerald, type Herald } from './server.ts';
import type { ClaimedSession, RequestClaim, SessionStore, SessionStoreListener, StoredNotification } from './session-store.ts';
import { connectMemory, ManualClock, type MemorySocket } from './testing/index.ts';

const contract = defineContract({
  requests: { 'test.Echo': { request: z.object({}), response: z.object({}) } },
  notifications: { 'test.Note': { body: z.object({ n: z.number() }) } },
});

/**
 * A session store in memory whose channel to the node is in the test's hands: what it
 * publishes waits in `channel` until `deliver` hands it over, in any order, or never.
 */
class ScriptedStore implements SessionStore {
  listener!: SessionStoreListener;
  readonly sessions = new Map<string, { userId: string; seq: number; mailbox: StoredNotification[] }>();
  channel: Array<[string, StoredNotification]> = [];
  /** While set, claims wait for it. */
  claimGate: Promise<void> | undefined;

  attach(listener: SessionStoreListener): void {
    this.listener = listener;
  }
  async create(sessionId: string, userId: string): Promise<void> {
    this.sessions.set(sessionId, { userId, seq: 0, mailbox: [] });
  }
  async notify(sessionId: string, type: string, body: string | undefined): Promise<number | undefined> {
    const session = this.sessions.get(sessionId);
    if (session === undefined) return undefined;
    const notification = { seq: ++session.seq, type, body };
    session.mailbox.push(notification);
    this.channel.push([sessionId, notification]);
    return notification.seq;
  }
  async notifyUser(userId: string, type: string, body: string | undefined): Promise<void> {
    for (const [id, session] of this.sessions) if (session.userId === userId) await this.notify(id, type, body);
  }
  async read(sessionId: string, after: number): Promise<readonly StoredNotification[]> {
    return (this.sessions.get(sessionId)?.mailbox ?? []).filter((n) => n.seq > after);
  }
  async ack(sessionId: string, seq: number): Promise<void> {
    const session = this.sessions.get(sessionId);
    if (session !== undefined) session.mailbox = session.mailbox.filter((n) => n.seq > seq);
  }
  async claim(sessionId: string, userId: string, after: number): Promise<ClaimedSession | undefined> {
    const session = this.sessions.get(sessionId);
    await this.claimGate;
    if (session === undefined || session.userId !== userId) return undefined;
    return { seq: session.seq, notifications: session.mailbox.filter((n) => n.seq > after) };
  }
  async release(sessionId: string): Promise<void> {
    this.sessions.delete(sessionId);
  }
  forget(): void {}
  /** What the store answers when a node asks about a request id. */
  requestClaim: RequestClaim = { state: 'new' };
  async beginRequest(): Promise<RequestClaim> {
    return this.requestClaim;
  }
  async finishRequest(): Promise<void> {}

  /** Hands the channel's messages at these indexes to the node, in this order; the rest are dropped. */
  deliver(order: readonly number[] = this.channel.map((_, i) => i)): void {
    const channel = this.channel;
    this.channel = [];
    for (const index of order) {
      const message = channel[index];
      if (message !== undefined) this.listener.notification(...message);
    }
  }

  /** Reports every session's head, as a store does periodically. */
  reportHeads(): void {
    for (const [id, session] of this.sessions) this.listener.head?.(id, session.seq);
  }
}

const flush = async () => {
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
};

function setup(): { herald: Herald<typeof contract>; store: ScriptedStore; clock: ManualClock } {
  const store = new ScriptedStore();
  const clock = new ManualClock();
  const herald = createHerald({
    contract,
    clock,
    sessionStore: store,
    subscribeToBroadcast: false,
    limits: { pingIntervalMs: 3_600_000 },
    authenticate: (token) => ({ userId: token }),
    handlers: { 'test.Echo': () => ({}) },
  });
  return { herald, store, clock };
}

async function open(herald: Herald<typeof contract>, user: string): Promise<MemorySocket> {
  const socket = await connectMemory(herald, { authorization: `Bearer ${user}` });
  socket.deliver({ kind: 'req', id: 'hello', type: 'test.Echo', body: {} });
  await flush();
  return socket;
}

const seqs = (socket: MemorySocket) => socket.received.filter((m): m is NotificationMessage => m.kind === 'notification' && m.seq !== undefined).map((m) => m.seq);
const sessionIdOf = (socket: MemorySocket) => ((socket.received[0] as NotificationMessage).body as WelcomeBody).sessionId;

describe('StoredDelivery', () => {
  it('queues notifications once and in seq order, however the channel reorders, repeats or drops them', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 12 }).chain((n) => fc.tuple(fc.constant(n), fc.array(fc.nat(n - 1), { maxLength: 3 * n }))),
        async ([n, order]) => {
          const { herald, store } = setup();
          const socket = await open(herald, 'ann');
          for (let i = 1; i <= n; i++) await herald.sendToUser('ann', 'test.Note', { n: i });
          store.deliver(order);
          await flush();
          store.reportHeads();
          await flush();
          expect(seqs(socket)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
          await herald.close();
        },
      ),
      { numRuns: 60 },
    );
  });

  it('reads from the mailbox what a head above the last arrival shows missing, even when nothing follows it', async () => {
    const { herald, store } = setup();
    const socket = await open(herald, 'ann');
    for (let i = 1; i <= 3; i++) await herald.sendToUser('ann', 'test.Note', { n: i });
    store.deliver([0]);
    await flush();
    expect(seqs(socket)).toEqual([1]);
    store.reportHeads();
    await flush();
    expect(seqs(socket)).toEqual([1, 2, 3]);
  });

  it('closes the connection (4500) when the gap is no longer in the mailbox, so the resume reports it', async () => {
    const { herald, store } = setup();
    const socket = await open(herald, 'ann');
    for (let i = 1; i <= 3; i++) await herald.sendToUser('ann', 'test.Note', { n: i });
    const stored = store.sessions.get(sessionIdOf(socket));
    if (stored !== undefined) stored.mailbox = stored.mailbox.filter((n) => n.seq === 3);
    store.deliver([2]);
    await flush();
    expect(seqs(socket)).toEqual([]);
    expect(socket.closedWith?.code).toBe(4500);
  });

  it('answers recovered: false for a mailbox that lost the start, and sends what follows at once', async () => {
    const { herald, store } = setup();
    const first = await open(herald, 'ann');
    const sessionId = sessionIdOf(first);
    store.listener.takenOver(sessionId);
    for (let i = 1; i <= 3; i++) await herald.sendToUser('ann', 'test.Note', { n: i });
    store.channel = [];
    const stored = store.sessions.get(sessionId);
    if (stored !== undefined) stored.mailbox = [];
    const second = await connectMemory(herald, { authorization: 'Bearer ann' });
    second.deliver({ kind: 'req', id: 'r', type: 'herald.Resume', body: { sessionId, seq: 1 } });
    await flush();
    expect(second.received.find((m) => m.kind === 'resp')?.body).toMatchObject({ sessionId, recovered: false });
    await herald.sendToUser('ann', 'test.Note', { n: 4 });
    store.deliver();
    await flush();
    expect(seqs(second)).toEqual([4]);
  });

  it('sends a claimed mailbox before the answer when the session settled while the claim ran, and what arrived meanwhile once', async () => {
    const { herald, store, clock } = setup();
    const first = await open(herald, 'ann');
    const sessionId = sessionIdOf(first);
    await herald.sendToUser('ann', 'test.Note', { n: 1 });
    store.deliver();
    await flush();
    first.deliver({ kind: 'ack', seq: 1 });
    await flush();
    // The session moved to another node, which then died: this node resumes it from the store.
    store.listener.takenOver(sessionId);
    for (let i = 2; i <= 3; i++) await herald.sendToUser('ann', 'test.Note', { n: i });
    store.channel = [];

    let release!: () => void;
    store.claimGate = new Promise((resolve) => (release = resolve));
    const second = await connectMemory(herald, { authorization: 'Bearer ann' });
    second.deliver({ kind: 'req', id: 'r', type: 'herald.Resume', body: { sessionId, seq: 1 } });
    await flush();
    clock.advance(1500);
    // Stored while the claim runs: heard on the channel, and also in the claimed mailbox.
    await herald.sendToUser('ann', 'test.Note', { n: 4 });
    store.deliver();
    release();
    await flush();
    const frames = second.received.map((m) => (m.kind === 'resp' ? 'answer' : m.kind === 'notification' && m.seq !== undefined ? m.seq : undefined));
    expect(frames.filter((x) => x !== undefined)).toEqual([2, 3, 4, 'answer']);
  });
});

describe('a request shared through the store', () => {
  it('answers 503 still_running when the request still runs on another node after the wait, and asks the store again on the next retry', async () => {
    const { herald, store, clock } = setup();
    const socket = await open(herald, 'ann');
    store.requestClaim = { state: 'running' };
    socket.deliver({ kind: 'req', id: 'q', type: 'test.Echo', body: {} });
    await flush();
    expect(socket.received.filter((m) => m.kind === 'resp' && m.reqId === 'q')).toEqual([]);
    clock.advance(30_000);
    await expect.poll(() => socket.received.find((m) => m.kind === 'resp' && m.reqId === 'q'), { timeout: 10_000 }).toMatchObject({
      type: 'test.Echo',
      code: 503,
      body: { error: 'still_running', retryAfterMs: 1000 },
    });
    store.requestClaim = { state: 'done', frame: '{"kind":"resp","reqId":"q","type":"test.Echo","code":200,"body":{"from":"store"}}' };
    socket.deliver({ kind: 'req', id: 'q', type: 'test.Echo', body: {} });
    await expect.poll(() => socket.received.filter((m) => m.kind === 'resp' && m.reqId === 'q').length, { timeout: 10_000 }).toBe(2);
    expect(socket.received.filter((m) => m.kind === 'resp' && m.reqId === 'q').at(-1)).toMatchObject({ code: 200, body: { from: 'store' } });
    await herald.close();
  });
});
