/** The demo application: handlers and policy, with no transport in sight. */
import { createHerald, type Herald, type HeraldOptions } from '@herald/core';
import { createContactCenter } from './contact-center.ts';
import { demo } from './contract.ts';
import { authenticate } from './identity.ts';
import { assertMaySee, maySee, roomTopic } from './rooms.ts';

type Demo = typeof demo;

/** A room's topic, with the room name the contract accepts. */
const ROOM_TOPIC = /^room\/([a-z0-9-]{1,32})$/;

/** The chat rooms and the contact center on one Herald server. */
export function createDemo(options: Partial<HeraldOptions<Demo>> = {}): Herald<Demo> {
  const contactCenter = createContactCenter();
  return createHerald({
    contract: demo,
    authenticate,
    canSubscribe: (topic, session) => {
      const room = ROOM_TOPIC.exec(topic)?.[1];
      return room === undefined ? contactCenter.canSubscribe(topic, session) : maySee(room, session.principal);
    },
    handlers: {
      'chat.Join': async ({ room }, ctx) => {
        assertMaySee(room, ctx.principal);
        return { topic: roomTopic(room), ...(await ctx.subscribe(roomTopic(room))) };
      },
      'chat.Send': async ({ room, text }, ctx) => {
        assertMaySee(room, ctx.principal);
        const { offset } = await ctx.herald.publish(roomTopic(room), 'chat.Message', { room, text, from: ctx.userId });
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
