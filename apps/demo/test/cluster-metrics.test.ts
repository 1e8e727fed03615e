/**
 * /metrics of a demo node on Redis: the shared long-poll handler's held polls, and the Redis
 * broker's outbox, errors and reconnects across a Redis restart. Real redis-server, real clients.
 */
import { LongPollWebSocket } from '@herald/client';
import { startRedis, type RedisServer } from '@herald/redis/testing';
import { connect, eventually, type Tester } from '@herald/testing';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startDemo, type DemoServer } from '../src/server.ts';

let redis: RedisServer;
let node: DemoServer;
const open: Tester[] = [];

beforeAll(async () => {
  redis = await startRedis();
  node = await startDemo({ port: 0, host: '127.0.0.1', redisUrl: redis.url, herald: { upgradeRateLimit: false } });
});

afterAll(async () => {
  for (const tester of open) tester.drop();
  await node.close();
  await redis.stop();
});

async function series(name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
  const families = parsePrometheusTextFormat(await (await fetch(`http://127.0.0.1:${node.port}/metrics`)).text());
  const sample = families.find((f) => f.name === name)?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  return sample?.value === undefined ? undefined : Number(sample.value);
}

it('counts held polls, and the broker outbox, errors and reconnects across a Redis restart', async () => {
  expect(await series('herald_long_poll_held_polls')).toBe(0);
  expect(await series('herald_broker_outbox')).toBe(0);
  expect(await series('herald_redis_reconnects_total', { connection: 'client' })).toBe(0);
  open.push(await connect(`http://127.0.0.1:${node.port}/lp`, { token: 'demo-carol', WebSocket: LongPollWebSocket }));
  await eventually(async () => expect(await series('herald_long_poll_held_polls')).toBe(1), 15_000);

  await redis.kill();
  await eventually(async () => expect(await series('herald_redis_errors_total', { connection: 'subscriber' })).toBeGreaterThan(0), 15_000);
  await redis.start();
  await eventually(async () => {
    expect(await series('herald_redis_reconnects_total', { connection: 'client' })).toBe(1);
    expect(await series('herald_redis_reconnects_total', { connection: 'subscriber' })).toBe(1);
  }, 20_000);
});
