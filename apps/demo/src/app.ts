/** The demo application: handlers and policy, with no transport in sight. */
import { createHerald, type Herald, type HeraldOptions } from '@herald/core';
import { createContactCenter } from './contact-center.ts';
import { demo } from './contract.ts';

type Demo = typeof demo;

/**
 * Demo credentials: a token `demo-<name>` authenticates as `<name>` for an hour.
 * A real application verifies a signed, short-lived ticket here.
 */
function authenticate(token: string) {
  const match = /^demo-([a-z0-9]{1,32})$/.exec(token);
  return match === null ? null : { userId: match[1] as string, expiresAt: Date.now() + 3_600_000 };
}

/** The chat rooms and the contact center on one Herald server. */
export function createDemo(options: Partial<HeraldOptions<Demo>> = {}): Herald<Demo> {
  const contactCenter = createContactCenter();
  return createHerald({
    contract: demo,
    authenticate,
    canSubscribe: (topic, session) => topic.startsWith('room/') || contactCenter.canSubscribe(topic, session),
    handlers: {
      'chat.Join': async ({ room }, ctx) => ({ topic: `room/${room}`, ...(await ctx.subscribe(`room/${room}`)) }),
      'chat.Send': async ({ room, text }, ctx) => {
        const { offset } = await ctx.herald.publish(`room/${room}`, 'chat.Message', { room, text, from: ctx.userId });
        return { offset };
      },
      'chat.Whisper': async ({ to, text }, ctx) => {
        await ctx.herald.sendToUser(to, 'chat.Whispered', { from: ctx.userId, text });
        return { delivered: true as const };
      },
      ...contactCenter.handlers,
    },
    ...options,
  });
}

/** The name `@herald/hono-demo` imports the application by. */
export const createChat = createDemo;
