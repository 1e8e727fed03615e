/** A small contract shared by the core's tests: a chat with rooms, in Zod. */
import { z } from 'zod';
import { defineContract } from '../src/index.ts';

export const chat = defineContract({
  requests: {
    'chat.Join': { request: z.object({ room: z.string().min(1) }), response: z.object({ topic: z.string(), offset: z.number() }) },
    'chat.Send': {
      request: z.object({ room: z.string().min(1), text: z.string().max(500) }),
      response: z.object({ offset: z.number() }),
    },
    'chat.Whisper': { request: z.object({ to: z.string(), text: z.string() }), response: z.object({ sent: z.boolean() }) },
    'chat.Count': { request: z.object({}), response: z.object({ calls: z.number() }) },
    'chat.Fail': { request: z.object({}).optional(), response: z.object({}) },
  },
  notifications: {
    'chat.Message': { body: z.object({ room: z.string(), text: z.string(), from: z.string() }) },
    'chat.Whispered': { body: z.object({ from: z.string(), text: z.string() }) },
  },
});
