/** The demo's contract: chat rooms with private whispers. */
import { defineContract } from '@herald/core';
import { z } from 'zod';

const room = z.string().regex(/^[a-z0-9-]{1,32}$/, 'lower-case letters, digits and dashes');

export const chat = defineContract({
  requests: {
    'chat.Join': {
      description: 'Join a room: the session is subscribed to the room topic.',
      request: z.object({ room }),
      response: z.object({ topic: z.string(), epoch: z.string(), offset: z.number() }),
    },
    'chat.Send': {
      description: 'Send a message to everyone in a room.',
      request: z.object({ room, text: z.string().min(1).max(500) }),
      response: z.object({ offset: z.number() }),
    },
    'chat.Whisper': {
      description: 'Send a private message to every device of one user.',
      request: z.object({ to: z.string().min(1), text: z.string().min(1).max(500) }),
      response: z.object({ delivered: z.literal(true) }),
    },
  },
  notifications: {
    'chat.Message': { description: 'A message in a room.', body: z.object({ room, text: z.string(), from: z.string() }) },
    'chat.Whispered': { description: 'A private message.', body: z.object({ from: z.string(), text: z.string() }) },
  },
});
