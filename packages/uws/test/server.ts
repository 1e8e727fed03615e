/** A Herald application on uWS for the tests: rooms, whispers, and a handler that counts calls. */
import { createHerald, defineContract, HeraldError, MemoryBroker, type Herald, type HeraldOptions } from '@herald/core';
import { z } from 'zod';
import { serveHerald, type HeraldUwsServer } from '../src/index.ts';

export const contract = defineContract({
  requests: {
    'chat.Join': { request: z.object({ room: z.string() }), response: z.object({ topic: z.string(), offset: z.number() }) },
    'chat.Send': { request: z.object({ room: z.string(), text: z.string().max(2000) }), response: z.object({ offset: z.number() }) },
    'chat.Whisper': { request: z.object({ to: z.string(), text: z.string() }), response: z.object({ sent: z.boolean() }) },
    'chat.Count': { request: z.object({}), response: z.object({ calls: z.number() }) },
    'chat.Forbidden': { request: z.object({}), response: z.object({}) },
    'chat.Crash': { request: z.object({}), response: z.object({}) },
    'chat.Big': { request: z.object({ kib: z.number() }), response: z.object({ data: z.string() }) },
  },
  notifications: {
    'chat.Message': { body: z.object({ room: z.string(), text: z.string(), from: z.string() }) },
    'chat.Whispered': { body: z.object({ from: z.string(), text: z.string() }) },
  },
});

export type Chat = typeof contract;

export interface Running {
  readonly herald: Herald<Chat>;
  readonly server: HeraldUwsServer;
  readonly url: string;
  readonly origin: string;
  calls: number;
}

/** Starts the test application on a free loopback port. */
export async function start(options: Partial<HeraldOptions<Chat>> = {}): Promise<Running> {
  const running = { calls: 0 } as Running;
  const herald = createHerald({
    contract,
    broker: new MemoryBroker({ historySize: 50_000 }),
    authenticate: (token) => (token.startsWith('user:') ? { userId: token.slice(5) } : null),
    canSubscribe: (topic) => topic.startsWith('room/'),
    upgradeRateLimit: false,
    onError: () => {},
    handlers: {
      'chat.Join': async ({ room }, ctx) => ({ topic: `room/${room}`, offset: (await ctx.subscribe(`room/${room}`)).offset }),
      'chat.Send': async ({ room, text }, ctx) => ({
        offset: (await ctx.herald.publish(`room/${room}`, 'chat.Message', { room, text, from: ctx.userId })).offset,
      }),
      'chat.Whisper': async ({ to, text }, ctx) => {
        await ctx.herald.sendToUser(to, 'chat.Whispered', { from: ctx.userId, text });
        return { sent: true };
      },
      'chat.Count': async () => {
        await new Promise((resolve) => setTimeout(resolve, 20));
        return { calls: ++running.calls };
      },
      'chat.Forbidden': () => {
        throw new HeraldError(403, 'not_yours', 'not your conversation');
      },
      'chat.Crash': () => {
        throw new Error('secret internals');
      },
      'chat.Big': ({ kib }) => ({ data: 'x'.repeat(kib * 1024) }),
    },
    ...options,
  });
  const server = await serveHerald(herald, { port: 0, host: '127.0.0.1' });
  return Object.assign(running, {
    herald,
    server,
    url: `ws://127.0.0.1:${server.port}/ws`,
    origin: `http://127.0.0.1:${server.port}`,
  });
}
