/** The demo in cluster mode: two nodes on one Redis, clients on different nodes. */
import { connect, withType, type Tester } from '@herald/testing';
import { startRedis, type RedisServer } from '@herald/redis/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startDemo, type DemoServer } from '../src/server.ts';

let redis: RedisServer;
const nodes: DemoServer[] = [];
const open: Tester[] = [];

beforeAll(async () => {
  redis = await startRedis();
  for (let i = 0; i < 2; i++) nodes.push(await startDemo({ port: 0, host: '127.0.0.1', redisUrl: redis.url, herald: { upgradeRateLimit: false } }));
});

afterAll(async () => {
  for (const tester of open) tester.drop();
  for (const node of nodes) await node.close();
  await redis.stop();
});

async function client(node: number, token: string): Promise<Tester> {
  const tester = await connect(`ws://127.0.0.1:${nodes[node]?.port}/ws`, { token });
  open.push(tester);
  return tester;
}

it('shares rooms, whispers and sessions between nodes', async () => {
  const health = await fetch(`http://127.0.0.1:${nodes[0]?.port}/readyz`);
  expect(health.status).toBe(200);
  expect(await health.json()).toMatchObject({ ready: true, draining: false, broker: { status: 'ok' }, sessions: { status: 'ok' } });

  const alice = await client(0, 'demo-alice');
  const bob = await client(1, 'demo-bob');
  await alice.request('chat.Join', { room: 'cluster' });
  await bob.request('chat.Send', { room: 'cluster', text: 'from node 2' });
  expect(await alice.waitFor(withType('chat.Message'))).toMatchObject({ topic: 'room/cluster', offset: 1, body: { from: 'bob' } });
  await bob.request('chat.Whisper', { to: 'alice', text: 'psst' });
  expect(await alice.waitFor(withType('chat.Whispered'))).toMatchObject({ seq: 1, body: { from: 'bob', text: 'psst' } });

  // Alice drops off node 1 and resumes on node 2, missing nothing.
  const sessionId = alice.welcome.sessionId;
  alice.drop();
  await bob.request('chat.Whisper', { to: 'alice', text: 'while you were away' });
  const back = await client(1, 'demo-alice');
  expect(await back.request('herald.Resume', { sessionId, seq: 1, topics: {} })).toMatchObject({ code: 200, body: { sessionId, recovered: true } });
  expect(await back.waitFor(withType('chat.Whispered'))).toMatchObject({ seq: 2, body: { text: 'while you were away' } });
});
