import { describe, expect, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import { defineContract } from './contract.ts';
import type { Envelope, ResponseMessage, StreamPosition } from './envelope.ts';
import { MemoryBroker } from './memory-broker.ts';
import { createHerald, type Herald, type HeraldOptions } from './server.ts';
import { ManualClock, MemorySocket, upgradeRequest } from './testing/index.ts';
import { TopicPatterns, type PatternOfTopic, type Topic, type TopicNotificationType, type TopicParams } from './topic-patterns.ts';

const contract = defineContract({
  requests: { 'room.Join': { request: z.object({ room: z.string() }), response: z.object({}) } },
  notifications: {
    'chat.Message': { body: z.object({ text: z.string() }) },
    'chat.Typing': { body: z.object({ who: z.string() }) },
    'inbox.Item': { body: z.object({ id: z.number() }) },
  },
  topics: {
    'room/{roomId}': { notifications: ['chat.Message', 'chat.Typing'], history: { messages: 3 } },
    'org/{orgId}/user/{userId}/inbox': { notifications: ['inbox.Item'], history: { messages: 100, ttlMs: 60_000 } },
    'news': { notifications: ['chat.Message'] },
  },
});
type Chat = typeof contract;

const flush = async () => {
  for (let i = 0; i < 3; i++) await new Promise<void>((resolve) => setImmediate(resolve));
};

function server(options: Partial<HeraldOptions<Chat>> = {}): Herald<Chat> {
  return createHerald({
    contract,
    handlers: {
      'room.Join': async ({ room }, ctx) => {
        await ctx.subscribe(room);
        return {};
      },
    },
    clock: new ManualClock(),
    authenticate: (token) => ({ userId: token }),
    subscribeToBroadcast: false,
    limits: { pingIntervalMs: 3_600_000 },
    topics: {
      'room/{roomId}': { canSubscribe: ({ roomId }) => (roomId.startsWith('private-') ? 'private rooms need an invitation' : true) },
      'org/{orgId}/user/{userId}/inbox': { canSubscribe: ({ userId }, session) => userId === session.userId },
    },
    ...options,
  });
}

async function connect(herald: Herald<Chat>, user = 'alice'): Promise<MemorySocket> {
  const decision = await herald.upgrade(upgradeRequest({ authorization: `Bearer ${user}` }));
  if (!decision.ok) throw new Error(`upgrade refused: ${decision.body.message}`);
  const socket = new MemorySocket();
  socket.connection = herald.open(socket, decision);
  await flush();
  return socket;
}

let ids = 0;
async function subscribe(socket: MemorySocket, topic: string, since?: StreamPosition): Promise<ResponseMessage> {
  const id = `s${++ids}`;
  const before = socket.received.length;
  socket.deliver({ kind: 'req', id, type: 'herald.Subscribe', body: since === undefined ? { topic } : { topic, since } });
  await flush();
  const answer = socket.received.slice(before).find((e: Envelope): e is ResponseMessage => e.kind === 'resp' && e.reqId === id);
  if (answer === undefined) throw new Error(`no answer to the subscribe of ${topic}`);
  return answer;
}

describe('topic patterns', () => {
  it('match topics to patterns with their parameters, one segment per parameter', () => {
    const patterns = new TopicPatterns(contract.topics, Object.keys(contract.notifications));
    expect(patterns.match('room/lobby')).toMatchObject({ pattern: { pattern: 'room/{roomId}' }, params: { roomId: 'lobby' } });
    expect(patterns.match('org/acme/user/u-1/inbox')?.params).toEqual({ orgId: 'acme', userId: 'u-1' });
    expect(patterns.match('news')?.params).toEqual({});
    for (const topic of ['room/', 'room/a/b', 'rooms/a', 'org/acme/user/u-1/inbox/x', 'newsy', '$all']) expect(patterns.match(topic)).toBeNull();
    expect(patterns.retentionOf('room/lobby')).toEqual({ messages: 3 });
    expect(patterns.retentionOf('news')).toBeUndefined();
  });

  it.each([
    ['a parameter named twice', { 'a/{x}/{x}': { notifications: ['n.A'] } }, 'names {x} twice'],
    ['a character topics cannot hold', { 'a b/{x}': { notifications: ['n.A'] } }, 'has characters a topic cannot'],
    ['a server topic', { '$mine/{x}': { notifications: ['n.A'] } }, 'are the server'],
    ['an undeclared notification', { 'a/{x}': { notifications: ['n.B'] } }, 'which the contract does not declare'],
    ['a history of no messages', { 'a/{x}': { notifications: ['n.A'], history: { messages: 0 } } }, 'history needs messages ≥ 1'],
  ])('are checked by defineContract: %s', (_what, topics, message) => {
    const definition = { requests: {}, notifications: { 'n.A': { body: z.object({}) } }, topics };
    expect(() => defineContract(definition as never)).toThrow(message);
  });

  it("are typed: a topic's parameters, its pattern and the notifications it carries", () => {
    expectTypeOf<TopicParams<'org/{orgId}/user/{userId}/inbox'>>().toEqualTypeOf<{ readonly orgId: string; readonly userId: string }>();
    expectTypeOf<PatternOfTopic<Chat, 'room/lobby'>>().toEqualTypeOf<'room/{roomId}'>();
    expectTypeOf<TopicNotificationType<Chat, 'room/lobby', 'chat.Message' | 'chat.Typing' | 'inbox.Item'>>().toEqualTypeOf<'chat.Message' | 'chat.Typing'>();
    expectTypeOf<'room/lobby'>().toExtend<Topic<Chat>>();
    expectTypeOf<'$all'>().toExtend<Topic<Chat>>();
    expectTypeOf<'lobby'>().not.toExtend<Topic<Chat>>();
    // A contract without topics takes any topic.
    expectTypeOf<Topic<{ requests: {}; notifications: {} }>>().toEqualTypeOf<string>();

    const herald = server();
    const typeOnly = (): void => {
      void herald.publish('room/lobby', 'chat.Typing', { who: 'alice' });
      // @ts-expect-error: inbox.Item is not a notification of room/{roomId}
      void herald.publish('room/lobby', 'inbox.Item', { id: 1 });
      // @ts-expect-error: no pattern declares rooms/…
      void herald.publish('rooms/lobby', 'chat.Message', { text: 'hi' });
      // @ts-expect-error: the body of chat.Message has text
      void herald.publish('room/lobby', 'chat.Message', { who: 'alice' });
      createHerald({
        contract,
        handlers: { 'room.Join': () => ({}) },
        // @ts-expect-error: room/{roomId} has no parameter named room
        topics: { 'room/{roomId}': { canSubscribe: ({ room }) => room === 'x' } },
      });
      // @ts-expect-error: not a pattern of the contract
      createHerald({ contract, handlers: { 'room.Join': () => ({}) }, topics: { 'rooms/{id}': {} } });
      defineContract({
        requests: {},
        notifications: { 'n.A': { body: z.object({}) } },
        // @ts-expect-error: n.B is not a notification of the contract
        topics: { 'a/{x}': { notifications: ['n.B'] } },
      });
    };
    expect(typeOnly).toBeTypeOf('function');
  });

  it('refuse subscriptions by the rule of the pattern, with its reason, and topics of no pattern', async () => {
    const herald = server();
    const alice = await connect(herald, 'alice');
    expect((await subscribe(alice, 'room/lobby')).code).toBe(200);
    expect(await subscribe(alice, 'room/private-1')).toMatchObject({ code: 403, body: { error: 'forbidden', message: 'private rooms need an invitation' } });
    expect((await subscribe(alice, 'org/acme/user/alice/inbox')).code).toBe(200);
    expect(await subscribe(alice, 'org/acme/user/bob/inbox')).toMatchObject({ code: 403, body: { error: 'forbidden', message: 'not allowed to subscribe to org/acme/user/bob/inbox' } });
    // A pattern without a rule, and no canSubscribe option: refused.
    expect(await subscribe(alice, 'news')).toMatchObject({ code: 403, body: { error: 'forbidden' } });
    expect(await subscribe(alice, 'rooms/lobby')).toMatchObject({ code: 403, body: { error: 'forbidden', message: 'rooms/lobby matches no topic pattern of the contract' } });
    expect((await subscribe(alice, '$all')).code).toBe(200);
    await herald.close();
  });

  it('fall back to canSubscribe for patterns without a rule of their own', async () => {
    const herald = server({ canSubscribe: (topic) => topic === 'news' });
    const alice = await connect(herald);
    expect((await subscribe(alice, 'news')).code).toBe(200);
    // The pattern's own rule decides its topics; canSubscribe is not asked.
    expect((await subscribe(alice, 'room/private-2')).code).toBe(403);
    await herald.close();
  });

  it("refuse to publish what the contract's topics do not carry, and server subscriptions to undeclared topics", async () => {
    const herald = server();
    // Mistakes of the server's own code throw at once, as a bad topic name does.
    expect(() => herald.publish('rooms/x' as never, 'chat.Message', { text: 'hi' })).toThrow('topic rooms/x matches no topic pattern of the contract');
    expect(() => herald.publish('room/x', 'inbox.Item' as never, { id: 1 } as never)).toThrow(
      'topic pattern room/{roomId} does not carry inbox.Item (it carries chat.Message, chat.Typing)',
    );
    await expect(herald.broadcast('inbox.Item', { id: 1 })).resolves.toMatchObject({ offset: 1 });
    const alice = await connect(herald);
    alice.deliver({ kind: 'req', id: 'j1', type: 'room.Join', body: { room: 'lobbies/1' } });
    await flush();
    expect(alice.received.find((e) => e.kind === 'resp' && e.reqId === 'j1')).toMatchObject({ code: 500 });
    await herald.close();
  });

  it("keep each pattern's history in the broker and announce it in herald.Subscribed", async () => {
    const broker = new MemoryBroker({ historySize: 1000 });
    const herald = server({ broker });
    for (let n = 1; n <= 5; n++) await herald.publish('room/lobby', 'chat.Message', { text: `m${n}` });
    for (let n = 1; n <= 5; n++) await herald.publish('news', 'chat.Message', { text: `m${n}` });
    const alice = await connect(herald);
    const start = { epoch: (await broker.position('room/lobby')).epoch, offset: 0 };
    // room/{roomId} keeps 3 messages: from offset 0 it no longer reaches back.
    expect(await subscribe(alice, 'room/lobby', start)).toMatchObject({
      code: 200,
      body: { topic: 'room/lobby', offset: 5, recovered: false, reason: 'history_expired', history: { messages: 3 } },
    });
    const recent = await subscribe(alice, 'room/lobby', { epoch: start.epoch, offset: 2 });
    expect(recent.body).toMatchObject({ recovered: true, offset: 5 });
    // news keeps the broker's 1000, and says nothing of its own.
    const news = await broker.history('news', { epoch: (await broker.position('news')).epoch, offset: 0 });
    expect(news.messages.map((m) => m.offset)).toEqual([1, 2, 3, 4, 5]);
    await herald.close();
  });

  it('need a broker that keeps history per topic when a pattern sets one', () => {
    const plain = new MemoryBroker();
    Object.defineProperty(plain, 'useTopicRetention', { value: undefined });
    expect(() => server({ broker: plain })).toThrow('topic pattern room/{roomId} sets history, which this broker cannot keep per topic');
  });
});
