/**
 * /metrics of a demo node on Redis: the shared long-poll handler's held polls, and the Redis
 * broker's outbox, errors and reconnects across a Redis restart; and the Grafana dashboard of
 * `@herald/metrics` queries nothing such a scrape lacks. Real redis-server, real clients.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
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

it('queries in the Grafana dashboard name only families a real scrape has, counters under rate()', async () => {
  const file = createRequire(import.meta.url).resolve('@herald/metrics/grafana/herald.json');
  const dashboard = JSON.parse(readFileSync(file, 'utf8')) as { panels: Array<{ targets?: Array<{ expr: string }> }>; templating: { list: Array<{ definition?: string }> } };
  const queries = [...dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr)), ...dashboard.templating.list.flatMap((v) => v.definition ?? [])];
  expect(queries.length).toBeGreaterThan(30);
  const families = new Map(parsePrometheusTextFormat(await (await fetch(`http://127.0.0.1:${node.port}/metrics`)).text()).map((f) => [f.name, f.type]));
  const missing: string[] = [];
  for (const query of queries) {
    for (const [, rated, name] of query.matchAll(/(rate\()?\b(herald_[a-z_]+)/g)) {
      const base = (name as string).replace(/_(bucket|sum|count)$/, '');
      const type = families.get(name as string) ?? (families.get(base) === 'HISTOGRAM' ? 'HISTOGRAM' : undefined);
      if (type === undefined) missing.push(name as string);
      else if (rated !== undefined) expect(['COUNTER', 'HISTOGRAM'], `rate(${name})`).toContain(type);
    }
  }
  expect(missing).toEqual([]);
});
