/**
 * A node for the graceful-shutdown test, as a process: uWS on a free loopback port with
 * WebSocket on /ws and long-poll on /lp, its long-poll connections in memory (STORE=memory) or
 * in the Redis at REDIS_URL (STORE=redis, keys under PREFIX). Prints `listening <port>` once it
 * listens; on SIGTERM it shuts down as an application should, draining for DRAIN_MS, and exits 0.
 */
import { createLongPollHandler } from '@herald/long-poll';
import { createConformanceHerald } from '@herald/testing/conformance';
import { attachHttp, loadUws, serveHerald } from '@herald/uws';
import { RedisBroker } from '../src/broker.ts';
import { RedisLongPollStore } from '../src/long-poll-store.ts';
import { RedisSessionStore } from '../src/session-store.ts';

async function joinRedis(url: string, prefix: string) {
  const sessionStore = new RedisSessionStore({ redis: url, prefix });
  const longPollStore = new RedisLongPollStore({ redis: url, sessionStore });
  const broker = new RedisBroker({ redis: url, prefix });
  await Promise.all([sessionStore.ready, longPollStore.ready]);
  return { sessionStore, longPollStore, broker };
}

const cluster = process.env['STORE'] === 'redis' ? await joinRedis(process.env['REDIS_URL'] as string, process.env['PREFIX'] as string) : undefined;
// No keep-alive pings while a test holds a poll: it waits for the shutdown's frames only.
const herald = createConformanceHerald({ pingIntervalMs: 600_000 }, cluster === undefined ? {} : cluster);
const app = loadUws().App();
const longPoll = createLongPollHandler(herald, { pollTimeoutMs: 20_000, ...(cluster === undefined ? {} : { store: cluster.longPollStore }) });
attachHttp(app, '/lp', longPoll.handle);
attachHttp(app, '/lp/*', longPoll.handle);
const server = await serveHerald(herald, { app, port: 0, host: '127.0.0.1', drainMs: Number(process.env['DRAIN_MS']) });
console.log(`listening ${server.port}`);

process.once('SIGTERM', async () => {
  // Every session is told (Goodbye, 4503); opens and upgrades get 503 while it drains; then it stops listening.
  await server.close();
  // Polls still held here (for connections other nodes hold) are answered, so they poll elsewhere.
  await longPoll.close();
  await Promise.all([cluster?.longPollStore.disconnect(), cluster?.sessionStore.close(), cluster?.broker.close()]);
  process.exit(0);
});
