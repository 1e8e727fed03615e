// The API, shared by the server and its clients: every request with its response, every notification.
import { defineContract } from '@herald/core';
import { z } from 'zod';

export const contract = defineContract({
  requests: {
    'chat.Join': { request: z.object({ room: z.string().max(64) }), response: z.object({ offset: z.number() }) },
    'chat.Send': { request: z.object({ room: z.string().max(64), text: z.string().min(1).max(500) }), response: z.object({ offset: z.number() }) },
  },
  notifications: {
    'chat.Message': { body: z.object({ room: z.string(), text: z.string(), from: z.string() }) },
  },
});
