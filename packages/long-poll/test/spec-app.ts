/**
 * The application PROTOCOL.md's examples are written against: a chat (`chat.PostMessage` on
 * `chat/room/<room>`, direct messages from `u-10077` to `u-48213`), the LivePerson agent console
 * of §6, and the long-poll chat of §11 (`chat.Send` on `room/<room>`).
 */
import { fossilDelta } from '@herald/core/fossil-delta';
import { createHerald, defineContract, MemoryBroker, type Broker, type Herald, type HeraldOptions, type Principal, type SessionHandle } from '@herald/core';
import { z } from 'zod';

const anything = z.record(z.string(), z.unknown());

export const specContract = defineContract({
  requests: {
    'chat.PostMessage': { request: z.object({ room: z.string(), text: z.string() }), response: z.object({ messageId: z.string(), offset: z.number() }) },
    'chat.ListRooms': { request: z.undefined(), response: z.object({ rooms: z.array(z.string()) }) },
    'chat.Send': { request: z.object({ room: z.string(), text: z.string() }), response: z.object({ offset: z.number() }) },
    'ams.aam.SubscribeExConversations': {
      request: z.object({ brandId: z.string(), agentIds: z.array(z.string()), convState: z.array(z.string()), skills: z.array(z.string()) }),
      response: z.object({ subscriptionId: z.string() }),
    },
  },
  notifications: {
    'chat.MessagePosted': { body: z.object({ messageId: z.string(), from: z.string(), text: z.string() }) },
    'chat.DirectMessage': { body: z.object({ from: z.string(), text: z.string() }) },
    'chat.Message': { body: z.object({ room: z.string(), text: z.string(), from: z.string() }) },
    'ams.routing.RingUpdated': { body: anything },
    'ops.MaintenanceScheduled': { body: anything },
    'price.Quote': { body: z.object({ bid: z.number(), ask: z.number() }) },
    'match.State': { body: anything },
  },
  topics: {
    'chat/room/{room}': { notifications: ['chat.MessagePosted'] },
    'room/{room}': { notifications: ['chat.Message'] },
    'team/{team}': { notifications: ['chat.Message'], presence: { state: z.object({ status: z.string() }) } },
    'brand/{brand}/skill/{skill}': { notifications: ['ams.routing.RingUpdated'] },
    'lobby/{name}': { notifications: ['chat.Message'], presence: 'count' },
    'price/{symbol}': { notifications: ['price.Quote'], conflate: true },
    'match/{id}': { notifications: ['match.State'], delta: true },
  },
});

export type SpecContract = typeof specContract;

/** The user of the examples, and the tokens that name them (a ticket, a refresh ticket, the JWT of §10). */
export const USER = 'u-48213';
const userTokens = new Set(['tk_01JH7Q3M8ZP4W6V2R9XK5N0B3C', 'tk_01JH7V0DS1KQ8E4M6T2YB9HF7A', 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1LTQ4MjEzIn0.c2lnbmF0dXJl']);
export const TICKET = 'tk_01JH7Q3M8ZP4W6V2R9XK5N0B3C';
export const REFRESH_TICKET = 'tk_01JH7V0DS1KQ8E4M6T2YB9HF7A';
export const JWT = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1LTQ4MjEzIn0.c2lnbmF0dXJl';

/** Example tokens name u-48213 for an hour; `<userId>` or `<userId>:ttl=<ms>` name anyone else. */
function authenticate(token: string): Principal | null {
  if (userTokens.has(token)) return { userId: USER, expiresAt: Date.now() + 3_600_000 };
  const match = /^([a-z]+(?:-\d+)?)(?::ttl=(\d+))?$/.exec(token);
  if (match === null) return null;
  return { userId: match[1] as string, expiresAt: Date.now() + Number(match[2] ?? 3_600_000) };
}

export interface SpecApp {
  readonly herald: Herald<SpecContract>;
  readonly broker: Broker;
  /** Posts to `chat/room/<room>` as `from`; message ids follow the offsets (`m_8812` is offset 1319). */
  post(room: string, from: string, text: string): Promise<{ messageId: string; offset: number }>;
  /** Posts `count` earlier messages, so that the next one gets the example's offset. */
  fill(topic: string, count: number): Promise<void>;
  /** The agent console's session, once it asked for its conversations. */
  agent: SessionHandle | undefined;
  /** When true, `chat.ListRooms` fails (its database is down). */
  roomsDown: boolean;
}

export function createSpecApp(options: Partial<HeraldOptions<SpecContract>> & { broker?: Broker } = {}): SpecApp {
  const broker = options.broker ?? new MemoryBroker({ historySize: 5000 });
  const post = async (room: string, from: string, text: string) => {
    const topic = `chat/room/${room}` as const;
    const messageId = `m_${7494 + (await broker.position(topic)).offset}`;
    const { offset } = await app.herald.publish(topic, 'chat.MessagePosted', { messageId, from, text });
    return { messageId, offset };
  };
  const app: SpecApp = {
    broker,
    agent: undefined,
    roomsDown: false,
    post,
    fill: async (topic, count) => {
      for (let n = 0; n < count; n++) await broker.publish(topic, 'chat.MessagePosted', '{"messageId":"m_0","from":"u-10077","text":"earlier"}');
    },
    herald: createHerald({
      contract: specContract,
      upgradeRateLimit: false,
      sweepIntervalMs: 25,
      authenticate,
      canSubscribe: (topic) => topic !== 'chat/room/7',
      onError: () => {},
      delta: fossilDelta(),
      handlers: {
        'chat.PostMessage': ({ room, text }, ctx) => post(room, ctx.userId, text),
        'chat.ListRooms': () => {
          if (app.roomsDown) throw new Error('rooms database unreachable');
          return { rooms: ['42'] };
        },
        'chat.Send': async ({ room, text }, ctx) => ({ offset: (await ctx.herald.publish(`room/${room}`, 'chat.Message', { room, text, from: ctx.userId })).offset }),
        'ams.aam.SubscribeExConversations': async ({ brandId, skills }, ctx) => {
          await ctx.subscribe(`brand/${brandId}/skill/${skills[0]}`);
          app.agent = ctx.session;
          return { subscriptionId: 'sx_5Vb0k2Lq' };
        },
      },
      ...options,
      broker,
    }),
  };
  return app;
}
