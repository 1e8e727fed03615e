/**
 * The conformance suite on nodes of a cluster: uWS with the Redis broker and session store, so
 * every protocol rule also holds when topics, private notifications and retries go through
 * Redis (and when the channel from the store loses notifications); and long-poll with its connections in Redis, every request after the open served by
 * one of two nodes in turn.
 */
import { LongPollWebSocket } from '@herald/client';
import { createLongPollHandler, type LongPollHandler } from '@herald/long-poll';
import { createConformanceHerald, describeConformance } from '@herald/testing/conformance';
import { attachFetch, loadUws, serveHerald } from '@herald/uws';
import { afterAll, beforeAll } from 'vitest';
import { RedisBroker } from '../src/broker.ts';
import { RedisLongPollStore } from '../src/long-poll-store.ts';
import { RedisPresence } from '../src/presence.ts';
import { RedisSessionStore } from '../src/session-store.ts';
import { startRedis, type RedisServer } from '../src/testing/index.ts';

let redis: RedisServer;
/** Long-poll stores serve requests until disconnected: after the file, as a process ends. */
const longPollStores: RedisLongPollStore[] = [];
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await Promise.all(longPollStores.map((store) => store.disconnect()));
  await redis.stop();
});

/**
 * A store whose channel to this node loses every third private notification, as a dropped
 * pub/sub connection would: every rule of the suite must still hold (PROTOCOL.md, "Never a
 * silent gap"), the lost ones read back from the mailbox.
 */
function lossyStore(store: RedisSessionStore): RedisSessionStore {
  const attach = store.attach.bind(store);
  let heard = 0;
  store.attach = (listener, limits) =>
    attach({ ...listener, notification: (sessionId, notification) => ++heard % 3 === 0 || listener.notification(sessionId, notification) }, limits);
  return store;
}

type Engine = { broker: RedisBroker; sessionStore: RedisSessionStore; presence: RedisPresence };
let engine: Engine | undefined;
/** Every test's server gets keys of its own, as a fresh in-memory server would. */
let tests = 0;
let prefix = '';
const fresh = () => {
  prefix = `conformance-${++tests}:`;
  engine = {
    broker: new RedisBroker({ redis: redis.url, prefix }),
    sessionStore: lossyStore(new RedisSessionStore({ redis: redis.url, prefix })),
    presence: new RedisPresence({ redis: redis.url, prefix }),
  };
  return engine;
};

describeConformance({
  name: 'uWebSockets.js on Redis',
  forbiddenFrames: { unmasked: 'unread', invalidUtf8: 'drop-connection' },
  engine: fresh,
  start: async (herald) => {
    const parts = engine as Engine;
    await parts.sessionStore.ready;
    const server = await serveHerald(herald, { port: 0, host: '127.0.0.1' });
    return {
      url: `ws://127.0.0.1:${server.port}/ws`,
      stop: async () => {
        await server.close();
        await Promise.all([parts.broker.close(), parts.sessionStore.close(), parts.presence.close()]);
      },
    };
  },
});

describeConformance({
  name: 'long-poll on Redis, through two nodes in turn',
  transport: 'long-poll',
  WebSocket: LongPollWebSocket,
  http10: 'unanswered',
  engine: fresh,
  start: async (herald) => {
    const parts = engine as Engine;
    // A second node that serves the same long-poll connections (its own Herald server is never opened on).
    const peerStore = new RedisSessionStore({ redis: redis.url, prefix });
    const peerBroker = new RedisBroker({ redis: redis.url, prefix });
    const peerPresence = new RedisPresence({ redis: redis.url, prefix });
    const peer = createConformanceHerald({}, { broker: peerBroker, sessionStore: peerStore, presence: peerPresence });
    const stores = [new RedisLongPollStore({ redis: redis.url, sessionStore: parts.sessionStore }), new RedisLongPollStore({ redis: redis.url, sessionStore: peerStore })];
    longPollStores.push(...stores);
    await Promise.all([parts.sessionStore.ready, peerStore.ready, ...stores.map((store) => store.ready)]);
    const handlers = [herald, peer].map((node, index) =>
      createLongPollHandler(node, { store: stores[index] as RedisLongPollStore, pollTimeoutMs: 2000, idleTimeoutMs: 3000 }),
    );
    // Opens land on the first node; every later request alternates between the two.
    let turn = 0;
    const uws = loadUws();
    const app = uws.App();
    const route = (request: Request) => {
      const opening = request.method === 'POST' && new URL(request.url).pathname === '/lp';
      return (handlers[opening ? 0 : turn++ % 2] as LongPollHandler).fetch(request);
    };
    attachFetch(app, '/lp', route);
    attachFetch(app, '/lp/*', route);
    const listen = await new Promise<unknown>((resolve) => app.listen('127.0.0.1', 0, resolve));
    const port = uws.us_socket_local_port(listen as never);
    return {
      url: `http://127.0.0.1:${port}/lp`,
      stop: async () => {
        await herald.close();
        for (const handler of handlers) handler.close();
        uws.us_listen_socket_close(listen as never);
        await peer.close();
        await Promise.all([parts.broker.close(), parts.sessionStore.close(), parts.presence.close(), peerStore.close(), peerBroker.close(), peerPresence.close()]);
      },
    };
  },
});
