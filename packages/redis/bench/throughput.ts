/**
 * `pnpm --filter @herald/redis bench`: what Redis costs per message, on a local redis-server.
 * Topic publishes (one Lua call each: offset, stream append, channel publish) awaited one at a
 * time and 100 in flight, publish-to-listener latency on another broker (another node), and
 * private notifications through the session store (stored, numbered, delivered to the owner).
 */
import { RedisBroker } from '../src/broker.ts';
import { RedisSessionStore } from '../src/session-store.ts';
import { startRedis } from '../src/testing/index.ts';

const smoke = process.argv.includes('--smoke');
const N = smoke ? 500 : 20_000;
const redis = await startRedis();
const publisher = new RedisBroker({ redis: redis.url });
const listener = new RedisBroker({ redis: redis.url });

const rate = (count: number, ms: number) => `${Math.round((count * 1000) / ms).toLocaleString('en')}/s`;
const percentile = (sorted: number[], p: number) => (sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] as number).toFixed(2);

let start = performance.now();
for (let i = 0; i < N; i++) await publisher.publish('bench/serial', 'bench.Tick', '{"n":1}');
console.log(`publish, one at a time:   ${rate(N, performance.now() - start)}`);

start = performance.now();
for (let i = 0; i < N; i += 100) {
  await Promise.all(Array.from({ length: 100 }, () => publisher.publish('bench/window', 'bench.Tick', '{"n":1}')));
}
console.log(`publish, 100 in flight:   ${rate(N, performance.now() - start)}`);

const sentAt = new Map<number, number>();
const latencies: number[] = [];
let done: () => void = () => {};
const all = new Promise<void>((resolve) => (done = resolve));
await listener.subscribe('bench/latency', (message) => {
  latencies.push(performance.now() - (sentAt.get(message.offset) as number));
  if (latencies.length === N / 10) done();
});
for (let offset = 1; offset <= N / 10; offset++) {
  sentAt.set(offset, performance.now());
  await publisher.publish('bench/latency', 'bench.Tick', '{"n":1}');
  await new Promise((resolve) => setTimeout(resolve, 0));
}
await all;
latencies.sort((a, b) => a - b);
console.log(`publish → other node:     p50 ${percentile(latencies, 0.5)} ms, p99 ${percentile(latencies, 0.99)} ms`);

const store = new RedisSessionStore({ redis: redis.url });
let heard = 0;
let finished: () => void = () => {};
const delivered = new Promise<void>((resolve) => (finished = resolve));
store.attach({ notification: () => ++heard === N && finished(), takenOver: () => {}, lost: () => {} }, { replayWindow: 1000, resumeWindowMs: 60_000 });
await store.ready;
await store.create('bench-session', 'bench-user');
start = performance.now();
for (let i = 0; i < N; i += 100) await Promise.all(Array.from({ length: 100 }, () => store.notify('bench-session', 'bench.Note', '{"n":1}')));
await delivered;
console.log(`private notify, stored:   ${rate(N, performance.now() - start)} (100 in flight, delivered to the owner)`);

await Promise.all([publisher.close(), listener.close(), store.close()]);
await redis.stop();
