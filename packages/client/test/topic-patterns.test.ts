/** Topic patterns of the contract, end to end: a typed `subscribe`, refusals with the rule's reason, the pattern's history announced. */
import { createHerald, defineContract, type Herald } from '@herald/core';
import { serveHerald, type HeraldUwsServer } from '@herald/uws';
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import WebSocket from 'ws';
import { z } from 'zod';
import { createClient, HeraldRequestError, type HeraldClient } from '../src/index.ts';

const contract = defineContract({
  requests: { 'room.Say': { request: z.object({ room: z.string(), text: z.string() }), response: z.object({ offset: z.number() }) } },
  notifications: {
    'chat.Message': { body: z.object({ text: z.string() }) },
    'chat.Typing': { body: z.object({ who: z.string() }) },
    'inbox.Item': { body: z.object({ id: z.number() }) },
  },
  topics: {
    'room/{roomId}': { notifications: ['chat.Message', 'chat.Typing'], history: { messages: 50, ttlMs: 600_000 } },
    'user/{userId}/inbox': { notifications: ['inbox.Item'] },
  },
});
type Rooms = typeof contract;

let herald: Herald<Rooms>;
let server: HeraldUwsServer;
let url: string;
const clients: HeraldClient<Rooms>[] = [];

beforeAll(async () => {
  herald = createHerald({
    contract,
    authenticate: (token) => ({ userId: token }),
    upgradeRateLimit: false,
    topics: {
      'room/{roomId}': { canSubscribe: ({ roomId }) => (roomId === 'vip' ? 'the vip room is by invitation' : true) },
      'user/{userId}/inbox': { canSubscribe: ({ userId }, session) => userId === session.userId },
    },
    handlers: { 'room.Say': async ({ room, text }, ctx) => ({ offset: (await ctx.herald.publish(`room/${room}`, 'chat.Message', { text })).offset }) },
  });
  server = await serveHerald(herald, { port: 0, host: '127.0.0.1' });
  url = `ws://127.0.0.1:${server.port}/ws`;
});

afterAll(async () => {
  for (const client of clients) client.close();
  await server.close();
});

function client(user: string): HeraldClient<Rooms> {
  const created = createClient<Rooms>({ url, WebSocket, token: user });
  clients.push(created);
  return created;
}

describe('topic patterns from the client', () => {
  it("delivers a pattern's notifications to a typed handler and announces the pattern's history", async () => {
    const ann = client('ann');
    const seen: Array<{ type: string; text: string }> = [];
    const subscription = ann.subscribe('room/lobby', (body, meta) => {
      expectTypeOf(meta.type).toEqualTypeOf<'chat.Message' | 'chat.Typing'>();
      if (meta.type === 'chat.Message') seen.push({ type: meta.type, text: (body as { text: string }).text });
    });
    expect(await subscription.ready).toMatchObject({ topic: 'room/lobby', history: { messages: 50, ttlMs: 600_000 } });
    await ann.request('room.Say', { room: 'lobby', text: 'hello' });
    const deadline = Date.now() + 20_000;
    while (seen.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(seen).toEqual([{ type: 'chat.Message', text: 'hello' }]);
  });

  it("rejects a refused subscription with the rule's reason, and a topic of no pattern", async () => {
    const bob = client('bob');
    const vip = bob.subscribe('room/vip', () => {});
    await expect(vip.ready).rejects.toThrow(HeraldRequestError);
    await expect(vip.ready).rejects.toMatchObject({ code: 403, reason: 'forbidden', message: 'the vip room is by invitation' });
    await expect(bob.subscribe('user/ann/inbox', () => {}).ready).rejects.toMatchObject({ code: 403 });
    await expect(bob.subscribe('user/bob/inbox', () => {}).ready).resolves.toMatchObject({ topic: 'user/bob/inbox' });
    // A topic no pattern declares does not compile; sent anyway, the server refuses it.
    // @ts-expect-error: no pattern declares lobby
    const undeclared = bob.subscribe('lobby', () => {});
    await expect(undeclared.ready).rejects.toMatchObject({ code: 403, message: 'lobby matches no topic pattern of the contract' });
  });

  it('types the handler by the pattern', () => {
    const typeOnly = (c: HeraldClient<Rooms>): void => {
      c.subscribe('user/ann/inbox', (body) => expectTypeOf(body).toEqualTypeOf<{ id: number }>());
      // @ts-expect-error: the inbox carries inbox.Item, whose body has no text
      c.subscribe('user/ann/inbox', (body: { text: string }) => void body);
    };
    expect(typeOnly).toBeTypeOf('function');
  });
});
