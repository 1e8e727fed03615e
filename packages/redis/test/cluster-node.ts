/**
 * One node of the test cluster, as a process: uWS on PORT with WebSocket on /ws, long-poll on
 * /lp and the health checks /healthz and /readyz, on the Redis at REDIS_URL. Prints `ready` once it listens.
 */
import { attachHerald, attachHttp, loadUws } from '@herald/uws';
import { createLongPollHandler } from '@herald/long-poll';
import { Redis } from 'ioredis';
import { RedisBroker } from '../src/broker.ts';
import { RedisLongPollStore } from '../src/long-poll-store.ts';
import { RedisSessionStore } from '../src/session-store.ts';
import { createClusterHerald } from './cluster-app.ts';

const url = process.env['REDIS_URL'] as string;
const port = Number(process.env['PORT']);
const sessionStore = new RedisSessionStore({ redis: url, nodeTimeoutMs: 1500 });
const longPollStore = new RedisLongPollStore({ redis: url, sessionStore });
const broker = new RedisBroker({ redis: url });
const redis = new Redis(url);
await Promise.all([sessionStore.ready, longPollStore.ready]);
const herald = createClusterHerald(broker, sessionStore, redis);

const uws = loadUws();
const app = uws.App();
attachHerald(app, herald, { path: '/ws' }, uws);
const longPoll = createLongPollHandler(herald, { store: longPollStore, pollTimeoutMs: 5000 });
attachHttp(app, '/lp', longPoll.handle);
attachHttp(app, '/lp/*', longPoll.handle);
app.listen('127.0.0.1', port, (listening) => {
  if (listening === false) {
    console.error(`node: cannot listen on ${port}`);
    process.exit(1);
  }
  console.log('ready');
});
