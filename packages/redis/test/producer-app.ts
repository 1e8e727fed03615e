/**
 * The application of the idempotent-publish test: one topic, one private notification type,
 * and a node on the Redis at `url` (broker and session store), for the producer process and
 * for the receiving node alike.
 */
import { createHerald, defineContract, type Herald } from '@herald/core';
import { z } from 'zod';
import { RedisBroker } from '../src/broker.ts';
import { RedisSessionStore } from '../src/session-store.ts';

export const producerContract = defineContract({
  requests: {},
  notifications: { 'order.Placed': { body: z.object({ n: z.number() }) } },
});

export const ORDERS_TOPIC = 'orders';

export interface ProducerNode {
  readonly herald: Herald<typeof producerContract>;
  close(): Promise<void>;
}

export async function producerNode(url: string, prefix: string): Promise<ProducerNode> {
  const broker = new RedisBroker({ redis: url, prefix });
  const sessionStore = new RedisSessionStore({ redis: url, prefix });
  await sessionStore.ready;
  const herald = createHerald({
    contract: producerContract,
    handlers: {},
    broker,
    sessionStore,
    authenticate: (token) => ({ userId: token }),
    canSubscribe: (topic) => topic === ORDERS_TOPIC,
  });
  return {
    herald,
    close: async () => {
      await herald.close();
      await Promise.all([broker.close(), sessionStore.close()]);
    },
  };
}
