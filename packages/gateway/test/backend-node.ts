/**
 * A backend Herald node as a process of its own: uWS on PORT (/ws, /readyz), and `/test/stats`
 * with `herald.stats`. REDIS_URL: share sessions and topics through Redis; else in memory.
 * PING_INTERVAL_MS / PING_TIMEOUT_MS set its keep-alive; ORIGINS (comma-separated) the browser
 * origins it allows (default `http://allowed.test`). Prints `ready` once it listens; SIGTERM
 * shuts it down gracefully (Goodbye 4503 to every client).
 */
import { serveHerald, loadUws } from '@herald/uws';
import { RedisBroker, RedisSessionStore } from '@herald/redis';
import { createBackendHerald } from './backend-app.ts';

const port = Number(process.env['PORT']);
const node = process.env['NODE'] ?? `node-${port}`;
const redisUrl = process.env['REDIS_URL'];
const pingIntervalMs = Number(process.env['PING_INTERVAL_MS'] ?? 25_000);
const pingTimeoutMs = Number(process.env['PING_TIMEOUT_MS'] ?? 10_000);
const origins = (process.env['ORIGINS'] ?? 'http://allowed.test').split(',');

const sessionStore = redisUrl === undefined ? undefined : new RedisSessionStore({ redis: redisUrl, nodeTimeoutMs: 1500 });
await sessionStore?.ready;
const herald = createBackendHerald({
  node,
  ...(redisUrl === undefined ? {} : { broker: new RedisBroker({ redis: redisUrl }) }),
  ...(sessionStore === undefined ? {} : { sessionStore }),
  limits: { pingIntervalMs, pingTimeoutMs },
  origins,
});
const app = loadUws().App();
app.get('/test/stats', (res) => {
  res.writeHeader('content-type', 'application/json').end(JSON.stringify(herald.stats));
});
const server = await serveHerald(herald, { app, port, host: '127.0.0.1', drainMs: 500 });
process.on('SIGTERM', () => {
  void server.close().then(() => process.exit(0));
});
console.log('ready');
