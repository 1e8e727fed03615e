/**
 * The application every chaos node runs, and the publisher outside them: topics `room/*`,
 * private notifications, and a request that counts its runs in a ledger Redis of its own (one
 * the run never restarts, so a second run shows even across the Redis restart). Every message
 * carries its round `n` and its publish time `t`; every answer names the node that ran it.
 */
import { createHerald, defineContract, type Herald } from '@herald/core';
import type { RedisBroker, RedisSessionStore } from '@herald/redis';
import type { Redis } from 'ioredis';
import { z } from 'zod';

const stamped = z.object({ n: z.number(), t: z.number() });

export const chaosContract = defineContract({
  requests: {
    'chaos.Run': { request: z.object({ key: z.string() }), response: z.object({ runs: z.number(), node: z.string() }) },
  },
  notifications: {
    'chaos.Tick': { body: stamped },
    'chaos.Private': { body: stamped },
  },
});
export type ChaosContract = typeof chaosContract;

/** Ledger keys: one counter per request key. */
export const RUNS_PREFIX = 'chaos:runs:';
/** Ledger keys: per request key, `<node>@<time>` of each run, to tell how a second run came about. */
export const RAN_PREFIX = 'chaos:ran:';

/**
 * Keep-alive short enough that a frozen link is found dead within a freeze. Every client comes
 * from 127.0.0.1 (the fault proxy, then haproxy), so the per-address cap (256 by default) would
 * refuse the clients of a thousand-client run past the first few hundred on a node.
 */
export const CHAOS_LIMITS = {
  pingIntervalMs: 4000,
  pingTimeoutMs: 4000,
  rateLimit: { messagesPerSecond: 1000, burst: 1000 },
  maxConnectionsPerAddress: 100_000,
};

export interface ChaosAppOptions {
  readonly broker: RedisBroker;
  readonly sessionStore: RedisSessionStore;
  readonly ledger: Redis;
  /** Named in every answer, so the run knows which node a client is on. */
  readonly nodeId: string;
}

export function createChaosHerald(options: ChaosAppOptions): Herald<ChaosContract> {
  return createHerald({
    contract: chaosContract,
    broker: options.broker,
    sessionStore: options.sessionStore,
    authenticate: (token) => ({ userId: token }),
    canSubscribe: (topic) => topic.startsWith('room/'),
    upgradeRateLimit: false,
    limits: CHAOS_LIMITS,
    // One line each: during the Redis restart every request fails the same way.
    onError: (error, request) => console.error(`${options.nodeId}: ${request.type} failed: ${error instanceof Error ? error.message : String(error)}`),
    handlers: {
      // Takes a while after its effect, so that some requests are cut short by a killed node.
      'chaos.Run': async ({ key }) => {
        const [[, runs]] = (await options.ledger
          .multi()
          .incr(RUNS_PREFIX + key)
          .rpush(RAN_PREFIX + key, `${options.nodeId}@${Date.now()}`)
          .exec()) as [[null, number], [null, number]];
        await new Promise((resolve) => setTimeout(resolve, 100));
        return { runs, node: options.nodeId };
      },
    },
  });
}
