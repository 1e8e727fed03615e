/**
 * The application the cluster test runs on every node: requests that count how often they
 * ran (in Redis, so a second run anywhere would show), topics `room/*`, and private
 * notifications sent from outside the nodes.
 */
import { createHerald, defineContract, type Herald } from '@herald/core';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import type { RedisBroker } from '../src/broker.ts';
import type { RedisSessionStore } from '../src/session-store.ts';

export const clusterContract = defineContract({
  requests: {
    'cluster.Run': { request: z.object({ key: z.string() }), response: z.object({ runs: z.number() }) },
  },
  notifications: {
    'cluster.Tick': { body: z.object({ n: z.number() }) },
    'cluster.Private': { body: z.object({ n: z.number() }) },
  },
});
export type ClusterContract = typeof clusterContract;

export const RUNS_PREFIX = 'cluster:runs:';

export function createClusterHerald(broker: RedisBroker, sessionStore: RedisSessionStore, redis: Redis): Herald<ClusterContract> {
  return createHerald({
    contract: clusterContract,
    broker,
    sessionStore,
    authenticate: (token) => ({ userId: token }),
    canSubscribe: (topic) => topic.startsWith('room/'),
    upgradeRateLimit: false,
    limits: { rateLimit: { messagesPerSecond: 1000, burst: 1000 } },
    onError: (error) => console.error('node: handler error', error),
    handlers: {
      // Takes a while after its effect, so that some requests are cut short by a killed node.
      'cluster.Run': async ({ key }) => {
        const runs = await redis.incr(RUNS_PREFIX + key);
        await new Promise((resolve) => setTimeout(resolve, 100));
        return { runs };
      },
    },
  });
}
