/**
 * One chaos node, as a process: uWS on PORT with WebSocket on /ws, long-poll on /lp and
 * `GET /readyz` (503 while Redis is down, so haproxy takes it out), sessions and topics on the
 * Redis at REDIS_URL, run counts in the ledger at LEDGER_URL. NODE_ID names it. Prints `ready`
 * once it listens; exits when its parent goes (stdin closes), so a killed run leaves no nodes.
 */
import { createLongPollHandler } from '@herald/long-poll';
import { RedisBroker, RedisLongPollStore, RedisSessionStore } from '@herald/redis';
import { attachHerald, attachHttp, loadUws } from '@herald/uws';
import { Redis } from 'ioredis';
import { createChaosHerald } from './app.ts';

const url = process.env['REDIS_URL'] as string;
const port = Number(process.env['PORT']);
const nodeId = process.env['NODE_ID'] as string;
process.stdin.on('close', () => process.exit(0)).resume();

const sessionStore = new RedisSessionStore({ redis: url, nodeId, nodeTimeoutMs: 1500 });
const longPollStore = new RedisLongPollStore({ redis: url, sessionStore });
const broker = new RedisBroker({ redis: url });
const ledger = new Redis(process.env['LEDGER_URL'] as string);
await Promise.all([sessionStore.ready, longPollStore.ready]);
const herald = createChaosHerald({ broker, sessionStore, ledger, nodeId });

const uws = loadUws();
const app = uws.App();
attachHerald(app, herald, { path: '/ws' }, uws);
const longPoll = createLongPollHandler(herald, { store: longPollStore, pollTimeoutMs: 5000 });
attachHttp(app, '/lp', longPoll.handle);
attachHttp(app, '/lp/*', longPoll.handle);
app.listen('127.0.0.1', port, (listening) => {
  if (listening === false) {
    console.error(`${nodeId}: cannot listen on ${port}`);
    process.exit(1);
  }
  console.log('ready');
});
