// The server's behaviour, without a transport: the tests run it in process and over a socket.
import { createHerald } from '@herald/core';
import { contract } from './contract.ts';

export function createApp() {
  return createHerald({
    contract,
    // Tokens are `user:<name>` here. Check a real one (a JWT, a session id) and return
    // { userId, expiresAt? }, or null to refuse it.
    authenticate: (token) => (token.startsWith('user:') ? { userId: token.slice(5) } : null),
    // Browsers may connect only from these pages (without it: pages on localhost only).
    origins: process.env.ORIGINS?.split(','),
    handlers: {
      'chat.Join': async ({ room }, ctx) => ({ offset: (await ctx.subscribe(`room/${room}`)).offset }),
      'chat.Send': async ({ room, text }, ctx) => ({
        offset: (await ctx.herald.publish(`room/${room}`, 'chat.Message', { room, text, from: ctx.userId })).offset,
      }),
    },
  });
}
