import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineContract } from './contract.ts';
import type { Envelope, NotificationMessage, ResponseMessage } from './envelope.ts';
import { MemoryBroker } from './memory-broker.ts';
import { MemoryPresence } from './presence.ts';
import { createHerald, type Herald, type HeraldOptions } from './server.ts';
import { ManualClock, MemorySocket, upgradeRequest } from './testing/index.ts';

const contract = defineContract({
  requests: {},
  notifications: { 'chat.Message': { body: z.object({ text: z.string() }) } },
  topics: {
    'room/{roomId}': { notifications: ['chat.Message'], presence: { state: z.object({ status: z.enum(['online', 'away']) }) } },
    'lobby/{name}': { notifications: ['chat.Message'], presence: 'count' },
    'plain/{name}': { notifications: ['chat.Message'] },
  },
});
type Rooms = typeof contract;

const flush = async () => {
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
};

const RESUME_WINDOW_MS = 60_000;

function server(options: Partial<HeraldOptions<Rooms>> = {}): { herald: Herald<Rooms>; clock: ManualClock } {
  const clock = new ManualClock();
  const herald = createHerald({
    contract,
    handlers: {},
    clock,
    authenticate: (token) => ({ userId: token.split('#')[0] as string }),
    canSubscribe: () => true,
    subscribeToBroadcast: false,
    limits: { pingIntervalMs: 3_600_000, pingTimeoutMs: 3_600_000, resumeWindowMs: RESUME_WINDOW_MS },
    ...options,
  });
  return { herald, clock };
}

async function connect(herald: Herald<Rooms>, token: string): Promise<MemorySocket> {
  const decision = await herald.upgrade(upgradeRequest({ authorization: `Bearer ${token}` }));
  if (!decision.ok) throw new Error(`upgrade refused: ${decision.body.message}`);
  const socket = new MemorySocket();
  socket.connection = herald.open(socket, decision);
  await flush();
  return socket;
}

let ids = 0;
async function ask(socket: MemorySocket, type: string, body: unknown): Promise<ResponseMessage> {
  const id = `r${++ids}`;
  socket.deliver({ kind: 'req', id, type, body });
  await flush();
  const answer = socket.received.find((e: Envelope): e is ResponseMessage => e.kind === 'resp' && e.reqId === id);
  if (answer === undefined) throw new Error(`no answer to ${type}`);
  return answer;
}

const diffs = (socket: MemorySocket, topic: string) =>
  socket.received
    .filter((e): e is NotificationMessage => e.kind === 'notification' && e.type === 'herald.PresenceDiff' && e.topic === topic)
    .map((e) => e.body);

describe('presence', () => {
  it('makes a user one member however many sessions it has: joins on the first, leaves on the last', async () => {
    const occupied: string[] = [];
    const vacated: string[] = [];
    const { herald } = server({ onOccupied: (topic) => occupied.push(topic), onVacated: (topic) => vacated.push(topic) });
    const watcher = await connect(herald, 'watcher');
    await ask(watcher, 'herald.Subscribe', { topic: 'room/a' });
    const phone = await connect(herald, 'ann#phone');
    const laptop = await connect(herald, 'ann#laptop');
    await ask(phone, 'herald.Subscribe', { topic: 'room/a' });
    await ask(laptop, 'herald.Subscribe', { topic: 'room/a' });
    expect(diffs(watcher, 'room/a')).toEqual([
      { joins: [{ userId: 'watcher', connections: 1 }], leaves: [] },
      { joins: [{ userId: 'ann', connections: 1 }], leaves: [] },
    ]);
    expect((await ask(watcher, 'herald.Presence', { topic: 'room/a' })).body).toMatchObject({
      topic: 'room/a',
      count: 2,
      members: [
        { userId: 'ann', connections: 2 },
        { userId: 'watcher', connections: 1 },
      ],
    });
    await ask(phone, 'herald.Unsubscribe', { topic: 'room/a' });
    expect(diffs(watcher, 'room/a')).toHaveLength(2);
    await ask(laptop, 'herald.Unsubscribe', { topic: 'room/a' });
    expect(diffs(watcher, 'room/a').at(-1)).toEqual({ joins: [], leaves: ['ann'] });
    await ask(watcher, 'herald.Unsubscribe', { topic: 'room/a' });
    expect([occupied, vacated]).toEqual([['room/a'], ['room/a']]);
    await herald.close();
  });

  it('does not flap when a connection drops and resumes within the window; a session that ends leaves', async () => {
    const { herald, clock } = server();
    const watcher = await connect(herald, 'watcher');
    await ask(watcher, 'herald.Subscribe', { topic: 'room/a' });
    const ann = await connect(herald, 'ann');
    const { epoch, offset } = (await ask(ann, 'herald.Subscribe', { topic: 'room/a' })).body as { epoch: string; offset: number };
    const sessionId = (ann.received[0] as NotificationMessage<string, { sessionId: string }>).body?.sessionId as string;
    ann.drop();
    await flush();
    clock.advance(RESUME_WINDOW_MS / 2);
    await flush();
    const back = await connect(herald, 'ann');
    const resumed = await ask(back, 'herald.Resume', { sessionId, seq: 0, topics: { 'room/a': { epoch, offset } } });
    expect(resumed.body).toMatchObject({ sessionId });
    expect(diffs(watcher, 'room/a').map((d) => d)).toEqual([
      { joins: [{ userId: 'watcher', connections: 1 }], leaves: [] },
      { joins: [{ userId: 'ann', connections: 1 }], leaves: [] },
    ]);
    // Dropped again, and never back: the session ends with its window, and ann leaves.
    back.drop();
    await flush();
    clock.advance(RESUME_WINDOW_MS + 2000);
    await flush();
    expect(diffs(watcher, 'room/a').at(-1)).toEqual({ joins: [], leaves: ['ann'] });
    await herald.close();
  });

  it('leaves the topics a resume no longer lists', async () => {
    const { herald } = server();
    const watcher = await connect(herald, 'watcher');
    await ask(watcher, 'herald.Subscribe', { topic: 'room/a' });
    const ann = await connect(herald, 'ann');
    await ask(ann, 'herald.Subscribe', { topic: 'room/a' });
    const sessionId = (ann.received[0] as NotificationMessage<string, { sessionId: string }>).body?.sessionId as string;
    ann.drop();
    await flush();
    const back = await connect(herald, 'ann');
    await ask(back, 'herald.Resume', { sessionId, seq: 0, topics: {} });
    expect(diffs(watcher, 'room/a').at(-1)).toEqual({ joins: [], leaves: ['ann'] });
    await herald.close();
  });

  it("sets a member's state, checked by the pattern's schema, and tells every subscriber", async () => {
    const { herald } = server();
    const ann = await connect(herald, 'ann');
    await ask(ann, 'herald.Subscribe', { topic: 'room/a' });
    expect(await ask(ann, 'herald.SetPresence', { topic: 'room/a', state: { status: 'asleep' } })).toMatchObject({
      code: 400,
      body: { error: 'validation_failed', issues: [{ path: ['body', 'state', 'status'] }] },
    });
    expect(await ask(ann, 'herald.SetPresence', { topic: 'room/a', state: { status: 'away' } })).toMatchObject({ code: 200, body: { topic: 'room/a' } });
    expect(diffs(ann, 'room/a').at(-1)).toEqual({ joins: [{ userId: 'ann', state: { status: 'away' }, connections: 1 }], leaves: [] });
    expect((await ask(ann, 'herald.Presence', { topic: 'room/a' })).body).toMatchObject({ members: [{ userId: 'ann', state: { status: 'away' } }] });
    await herald.close();
  });

  it('refuses presence requests on topics without presence, not subscribed, or with a bad body', async () => {
    const { herald } = server();
    const ann = await connect(herald, 'ann');
    await ask(ann, 'herald.Subscribe', { topic: 'plain/a' });
    expect(await ask(ann, 'herald.Presence', { topic: 'plain/a' })).toMatchObject({ code: 403, body: { error: 'forbidden', message: 'plain/a has no presence' } });
    expect(await ask(ann, 'herald.Presence', { topic: 'room/b' })).toMatchObject({ code: 403, body: { message: 'subscribe to room/b first' } });
    expect(await ask(ann, 'herald.SetPresence', { topic: 'room/b', state: { status: 'away' } })).toMatchObject({ code: 403 });
    expect(await ask(ann, 'herald.Presence', { topic: 'room/b', limit: 0 })).toMatchObject({ code: 400, body: { error: 'validation_failed' } });
    expect(await ask(ann, 'herald.Presence', { topic: 'room/b', limit: 1001 })).toMatchObject({ code: 400 });
    expect(await ask(ann, 'herald.SetPresence', { topic: 'room/b' })).toMatchObject({ code: 400, body: { issues: [{ path: ['body', 'state'] }] } });
    await herald.close();
  });

  it('lists members page by page in userId order', async () => {
    const { herald } = server();
    const sockets = [];
    for (const user of ['eve', 'bob', 'dan', 'ann', 'cat']) {
      const socket = await connect(herald, user);
      await ask(socket, 'herald.Subscribe', { topic: 'room/a' });
      sockets.push(socket);
    }
    const seen: string[] = [];
    let after: string | undefined;
    let pages = 0;
    do {
      const page = (await ask(sockets[0] as MemorySocket, 'herald.Presence', after === undefined ? { topic: 'room/a', limit: 2 } : { topic: 'room/a', limit: 2, after }))
        .body as { members: Array<{ userId: string }>; next?: string; count: number };
      expect(page.count).toBe(5);
      seen.push(...page.members.map((m) => m.userId));
      after = page.next;
      pages++;
    } while (after !== undefined);
    expect([seen, pages]).toEqual([['ann', 'bob', 'cat', 'dan', 'eve'], 3]);
    expect((await herald.members('room/a', { after: 'cat', limit: 1 })).members.map((m) => m.userId)).toEqual(['dan']);
    await herald.close();
  });

  it('counts members of a count-only topic, pushed from the sweep when the count changed, without diffs', async () => {
    const { herald, clock } = server();
    const users = [];
    for (const user of ['ann', 'bob', 'cat']) {
      const socket = await connect(herald, user);
      await ask(socket, 'herald.Subscribe', { topic: 'lobby/all' });
      users.push(socket);
    }
    const ann = users[0] as MemorySocket;
    const counts = () =>
      ann.received.filter((e): e is NotificationMessage => e.kind === 'notification' && e.type === 'herald.PresenceCount').map((e) => e.body);
    clock.advance(1000);
    await flush();
    expect(counts()).toEqual([{ topic: 'lobby/all', count: 3 }]);
    clock.advance(1000);
    await flush();
    expect(counts()).toHaveLength(1);
    await ask(users[2] as MemorySocket, 'herald.Unsubscribe', { topic: 'lobby/all' });
    clock.advance(1000);
    await flush();
    expect(counts().at(-1)).toEqual({ topic: 'lobby/all', count: 2 });
    expect(diffs(ann, 'lobby/all')).toEqual([]);
    expect((await ask(ann, 'herald.Presence', { topic: 'lobby/all' })).body).toEqual({ topic: 'lobby/all', count: 2 });
    expect(await ask(ann, 'herald.SetPresence', { topic: 'lobby/all', state: {} })).toMatchObject({ code: 403 });
    await expect(herald.members('lobby/all')).resolves.toEqual({ members: [], count: 2 });
    expect(() => herald.members('plain/x')).toThrow('topic plain/x has no presence');
    await herald.close();
  });

  it('is shared by servers that share a presence store and broker, as nodes do', async () => {
    const broker = new MemoryBroker();
    const presence = new MemoryPresence();
    const one = server({ broker, presence }).herald;
    const two = server({ broker, presence }).herald;
    const ann = await connect(one, 'ann');
    const bob = await connect(two, 'bob');
    await ask(ann, 'herald.Subscribe', { topic: 'room/a' });
    await ask(bob, 'herald.Subscribe', { topic: 'room/a' });
    expect(diffs(ann, 'room/a').at(-1)).toEqual({ joins: [{ userId: 'bob', connections: 1 }], leaves: [] });
    expect((await ask(bob, 'herald.Presence', { topic: 'room/a' })).body).toMatchObject({ count: 2 });
    await one.close();
    await two.close();
  });
});
