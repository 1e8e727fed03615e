/** The demo in cluster mode: two nodes on one Redis, clients on different nodes, one inspector page for both. */
import { connect, eventually, withType, type Tester } from '@herald/testing';
import { startRedis, type RedisServer } from '@herald/redis/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startDemo, type DemoServer } from '../src/server.ts';

let redis: RedisServer;
const nodes: DemoServer[] = [];
const open: Tester[] = [];
const INSPECTOR_TOKEN = 'cluster-inspector-token-0123';

beforeAll(async () => {
  redis = await startRedis();
  for (let i = 0; i < 2; i++) {
    nodes.push(await startDemo({ port: 0, host: '127.0.0.1', redisUrl: redis.url, herald: { upgradeRateLimit: false }, node: `n${i + 1}`, inspectorToken: INSPECTOR_TOKEN }));
  }
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

it('lists the sessions of both nodes on either node\'s inspector', async () => {
  await client(0, 'demo-dora');
  await client(1, 'demo-emil');
  for (const node of nodes) {
    await eventually(async () => {
      const answer = await fetch(`http://127.0.0.1:${node.port}/inspector/api/snapshot`, { headers: { authorization: `Bearer ${INSPECTOR_TOKEN}` } });
      const { nodes: reports } = (await answer.json()) as { nodes: Array<{ node: string; snapshot: { sessions: Array<{ userId?: string }> } }> };
      const users = Object.fromEntries(reports.map((report) => [report.node, report.snapshot.sessions.map((session) => session.userId)]));
      expect(users['n1']).toContain('dora');
      expect(users['n2']).toContain('emil');
    }, 15_000);
  }
});
