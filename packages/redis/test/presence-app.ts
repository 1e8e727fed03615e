/**
 * The application of the presence node-kill test: a room topic with presence, and a node on the
 * Redis at `url` (broker, session store and presence store), for the child process that is
 * killed and for the node that watches.
 */
import { createHerald, defineContract, type Herald } from '@herald/core';
import { z } from 'zod';
import { RedisBroker } from '../src/broker.ts';
import { RedisPresence } from '../src/presence.ts';
import { RedisSessionStore } from '../src/session-store.ts';

export const presenceContract = defineContract({
  requests: {},
  notifications: { 'room.Said': { body: z.object({ text: z.string() }) } },
  topics: { 'room/{roomId}': { notifications: ['room.Said'], presence: 'members' } },
});

/** A dead node's members leave within this (its heartbeat timeout, plus a heartbeat of the reaper). */
export const NODE_TIMEOUT_MS = 1500;

export interface PresenceNode {
  readonly herald: Herald<typeof presenceContract>;
  close(): Promise<void>;
}

export async function presenceNode(url: string, prefix: string): Promise<PresenceNode> {
  const broker = new RedisBroker({ redis: url, prefix });
  const sessionStore = new RedisSessionStore({ redis: url, prefix, nodeTimeoutMs: NODE_TIMEOUT_MS });
  const presence = new RedisPresence({ redis: url, prefix, nodeTimeoutMs: NODE_TIMEOUT_MS });
  await sessionStore.ready;
  const herald = createHerald({
    contract: presenceContract,
    handlers: {},
    broker,
    sessionStore,
    presence,
    authenticate: (token) => ({ userId: token }),
    canSubscribe: () => true,
  });
  return {
    herald,
    close: async () => {
      await herald.close();
      await Promise.all([broker.close(), sessionStore.close(), presence.close()]);
    },
  };
}
