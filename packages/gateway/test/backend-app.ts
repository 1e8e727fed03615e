/**
 * The Herald application behind the gateway in the tests: echo, topics `room/*`, private
 * notifications, a large answer, and `test.Where` naming the node that answered.
 */
import { createHerald, defineContract, MemoryBroker, type Broker, type Herald, type HeraldOptions, type SessionStore } from '@herald/core';
import { msgpack } from '@herald/core/msgpack';
import { z } from 'zod';

export const contract = defineContract({
  requests: {
    'test.Echo': { request: z.object({ text: z.string() }), response: z.object({ text: z.string() }) },
    'test.Where': { request: z.object({}), response: z.object({ pid: z.number(), node: z.string() }) },
    'test.Join': { request: z.object({ room: z.string() }), response: z.object({ offset: z.number() }) },
    'test.Slow': { request: z.object({ ms: z.number() }), response: z.object({}) },
    'test.Big': { request: z.object({ kib: z.number(), count: z.number() }), response: z.object({ sent: z.number() }) },
  },
  notifications: {
    'test.Tick': { body: z.object({ n: z.number(), data: z.string().optional() }) },
    'test.Private': { body: z.object({ n: z.number() }) },
  },
});
export type TestContract = typeof contract;

export interface BackendAppOptions {
  readonly node: string;
  readonly broker?: Broker;
  readonly sessionStore?: SessionStore;
  readonly limits?: HeraldOptions<TestContract>['limits'];
  readonly origins?: readonly string[];
}

export function createBackendHerald(options: BackendAppOptions): Herald<TestContract> {
  return createHerald({
    contract,
    codecs: [msgpack()],
    broker: options.broker ?? new MemoryBroker({ historySize: 10_000 }),
    ...(options.sessionStore === undefined ? {} : { sessionStore: options.sessionStore }),
    authenticate: (token) => (token.startsWith('user:') ? { userId: token.slice(5) } : null),
    canSubscribe: (topic) => topic.startsWith('room/'),
    upgradeRateLimit: false,
    ...(options.origins === undefined ? {} : { origins: options.origins }),
    limits: { rateLimit: { messagesPerSecond: 10_000, burst: 10_000 }, ...options.limits },
    onError: (error) => console.error('backend: handler error', error),
    handlers: {
      'test.Echo': ({ text }) => ({ text }),
      'test.Where': () => ({ pid: process.pid, node: options.node }),
      'test.Join': async ({ room }, ctx) => ({ offset: (await ctx.subscribe(`room/${room}`)).offset }),
      'test.Slow': async ({ ms }) => {
        await new Promise((resolve) => setTimeout(resolve, ms));
        return {};
      },
      'test.Big': async ({ kib, count }, ctx) => {
        const data = 'x'.repeat(kib * 1024);
        for (let n = 1; n <= count; n++) await ctx.herald.publish('room/big', 'test.Tick', { n, data });
        return { sent: count };
      },
    },
  });
}
