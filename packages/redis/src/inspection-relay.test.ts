/** `RedisInspectionRelay` on a real `redis-server`: reports with a TTL, asks answered by the node asked, and a node that stops drops off. */
import { eventually } from '@herald/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { RedisInspectionRelay } from './inspection-relay.ts';
import { startRedis, type RedisServer } from './testing/redis-server.ts';

let redis: RedisServer;
const relays: RedisInspectionRelay[] = [];

beforeAll(async () => {
  redis = await startRedis();
});

afterAll(async () => {
  for (const relay of relays) await relay.close();
  await redis?.stop();
});

function relay(nodeId: string): RedisInspectionRelay {
  const made = new RedisInspectionRelay({ redis: redis.url, nodeId, prefix: 'relay-test:' });
  relays.push(made);
  return made;
}

it('shows each node the others\' latest reports, and answers asks on the node asked', async () => {
  const a = relay('a');
  const b = relay('b');
  let reported = 0;
  a.start({ report: () => ({ from: 'a' }), answer: (request) => ({ echoed: request, by: 'a' }) });
  b.start({ report: () => ({ from: 'b', n: ++reported }), answer: () => ({ by: 'b' }) });
  await eventually(async () => expect((await a.reports()).get('b')).toMatchObject({ from: 'b' }), 10_000);
  expect([...(await a.reports()).keys()]).toEqual(['b']);
  expect([...(await b.reports()).keys()]).toEqual(['a']);
  expect(await b.ask('a', { action: 'x' })).toEqual({ echoed: { action: 'x' }, by: 'a' });
  await expect(a.ask('nobody', {})).rejects.toThrow(/not listening/);
});

it('drops a node that closes at once, and the report of one that died after its TTL', async () => {
  const watcher = relay('watcher');
  watcher.start({ report: () => ({}), answer: () => ({}) });
  const closing = relay('closing');
  closing.start({ report: () => ({}), answer: () => ({}) });
  await eventually(async () => expect((await watcher.reports()).has('closing')).toBe(true), 10_000);
  await closing.close();
  expect((await watcher.reports()).has('closing')).toBe(false);
  // What a node that died mid-run leaves behind: its last report, written with a 2 s TTL.
  const ghost = new Redis(redis.url);
  await ghost.multi().set('relay-test:inspect:node:ghost', '{}', 'PX', 2000).zadd('relay-test:inspect:nodes', Date.now() + 2000, 'ghost').exec();
  ghost.disconnect();
  expect((await watcher.reports()).has('ghost')).toBe(true);
  await eventually(async () => expect((await watcher.reports()).has('ghost')).toBe(false), 15_000);
});
