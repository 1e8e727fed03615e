/**
 * The server the client's tests talk to: Herald on uWS on loopback, behind a TCP relay (a
 * stand-in for a load balancer), with a contract shared with the client (so the tests also
 * check the typing). `restart` kills the uWS server abruptly — every connection drops — and
 * starts a new one with the same Herald state, which the relay then forwards to: what a node
 * restart looks like when sessions live in a shared store.
 */
import { createHerald, defineContract, HeraldError, type Herald, type HeraldOptions } from '@herald/core';
import { startRelay } from '@herald/testing/node';
import { serveHerald, type HeraldUwsServer } from '@herald/uws';
import { z } from 'zod';

export const contract = defineContract({
  requests: {
    'test.Echo': { request: z.object({ text: z.string() }), response: z.object({ text: z.string() }) },
    'test.Count': { request: z.object({ key: z.string() }), response: z.object({ key: z.string(), runs: z.number() }) },
    'test.Slow': { request: z.object({ ms: z.number() }), response: z.object({ slept: z.number() }) },
    'test.Forbidden': { request: z.object({}), response: z.object({}) },
    'test.Publish': { request: z.object({ topic: z.string(), n: z.number() }), response: z.object({ offset: z.number() }) },
    'test.Notify': { request: z.object({ to: z.string(), n: z.number() }), response: z.object({ ok: z.boolean() }) },
    'test.Restart': { request: z.object({}), response: z.object({ ok: z.boolean() }) },
  },
  notifications: {
    'test.Tick': { body: z.object({ n: z.number() }) },
    'test.Private': { body: z.object({ n: z.number() }) },
  },
});

export type TestContract = typeof contract;

export interface TestServer {
  readonly herald: Herald<TestContract>;
  readonly url: string;
  /** How many times each `test.Count` key ran. */
  readonly runs: Map<string, number>;
  /** How many upgrades were attempted. */
  upgrades: number;
  /** Kills every connection and the listener, then listens again on the same port. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export async function startServer(options: Partial<HeraldOptions<TestContract>> = {}): Promise<TestServer> {
  const runs = new Map<string, number>();
  let server: HeraldUwsServer;
  const restart = async (): Promise<void> => {
    // uWS has app.close() (it drops every connection at once); its typings lag behind.
    (server.app as unknown as { close(): void }).close();
    server = await serveHerald(herald, { port: 0, host: '127.0.0.1' });
  };
  const upgradeCounter = { upgrades: 0 };
  const herald: Herald<TestContract> = createHerald({
    contract,
    upgradeRateLimit: false,
    canSubscribe: (topic) => topic.startsWith('t/'),
    authenticate: (token) => {
      const match = /^user:([a-z0-9-]+)(?::ttl=(\d+))?$/.exec(token);
      if (match === null) return null;
      return match[2] === undefined ? { userId: match[1] as string } : { userId: match[1] as string, expiresAt: Date.now() + Number(match[2]) };
    },
    classifyClient: (request) => {
      upgradeCounter.upgrades++;
      return request.headers.get('origin') === null ? 'native' : 'browser';
    },
    onError: () => {},
    handlers: {
      'test.Echo': ({ text }) => ({ text }),
      'test.Count': ({ key }) => {
        const count = (runs.get(key) ?? 0) + 1;
        runs.set(key, count);
        return { key, runs: count };
      },
      'test.Slow': async ({ ms }) => {
        await new Promise((resolve) => setTimeout(resolve, ms));
        return { slept: ms };
      },
      'test.Forbidden': () => {
        throw new HeraldError(403, 'not_yours', 'not yours');
      },
      'test.Publish': async ({ topic, n }, ctx) => ({ offset: (await ctx.herald.publish(topic, 'test.Tick', { n })).offset }),
      'test.Notify': async ({ to, n }, ctx) => {
        await ctx.herald.sendToUser(to, 'test.Private', { n });
        return { ok: true };
      },
      'test.Restart': () => {
        setTimeout(() => void restart(), 20);
        return { ok: true };
      },
    },
    ...options,
  });
  server = await serveHerald(herald, { port: 0, host: '127.0.0.1' });
  const relay = await startRelay({ backend: () => server.port });
  return Object.assign(upgradeCounter, {
    herald,
    runs,
    url: `ws://127.0.0.1:${relay.port}/ws`,
    restart,
    stop: async () => {
      await server.close();
      await relay.close();
    },
  });
}
