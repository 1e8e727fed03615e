/**
 * Two nodes on one real `redis-server`, one on uWS and one on Hono, each with its inspector
 * reporting through `RedisInspectionRelay`: the page of either node lists both nodes' sessions,
 * tails a session held by the other node, and disconnects it there.
 */
import { RedisBroker, RedisInspectionRelay } from '@herald/redis';
import { startRedis, type RedisServer } from '@herald/redis/testing';
import { eventually } from '@herald/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type Chromium, launchChromium, screenshot, sessionRow, signedIn, WAIT } from './chromium.ts';
import { chatClient, serveInspected, type InspectedServer } from './servers.ts';

let redis: RedisServer;
let chromium: Chromium;
const nodes: InspectedServer[] = [];
const brokers: RedisBroker[] = [];

beforeAll(async () => {
  redis = await startRedis();
  chromium = await launchChromium();
  for (const [adapter, nodeId] of [['uws', 'node-a'], ['hono', 'node-b']] as const) {
    const relay = new RedisInspectionRelay({ redis: redis.url, nodeId });
    const broker = new RedisBroker({ redis: redis.url });
    brokers.push(broker);
    nodes.push(await serveInspected(adapter, { broker, inspector: { actions: true, relay } }));
  }
});

afterAll(async () => {
  await chromium?.close();
  for (const node of nodes) await node.close();
  for (const broker of brokers) await broker.close();
  await redis?.stop();
});

it('lists the sessions of both nodes on either page, tails one on the other node, and disconnects it there', async () => {
  const [a, b] = nodes as [InspectedServer, InspectedServer];
  const ann = chatClient(a.port, 'ann');
  const ben = chatClient(b.port, 'ben');
  await ann.subscribe('room/both', () => {}).ready;
  await ben.subscribe('room/both', () => {}).ready;

  const page = await signedIn(chromium.context, a.port);
  await page.locator('#state', { hasText: '2 nodes' }).waitFor(WAIT);
  await sessionRow(page, 'ann').and(page.locator('[data-node="node-a"]')).waitFor(WAIT);
  await sessionRow(page, 'ben').and(page.locator('[data-node="node-b"]')).waitFor(WAIT);
  // Subscribers of a topic add up over the nodes.
  await page.locator('inspector-topics tr[data-topic="room/both"] td', { hasText: /^2$/ }).waitFor(WAIT);

  const other = await signedIn(chromium.context, b.port);
  await sessionRow(other, 'ann').waitFor(WAIT);
  await sessionRow(other, 'ben').waitFor(WAIT);
  await other.close();

  await sessionRow(page, 'ben').locator('a.session-id').click();
  await page.locator('inspector-session .tail-status', { hasText: 'Live' }).waitFor(WAIT);
  await ann.request('chat.Send', { room: 'both', text: 'across nodes' });
  await page.locator('inspector-session li.frame.out', { hasText: 'chat.Message' }).first().waitFor(WAIT);
  await screenshot(page, 'inspector-cluster');

  await sessionRow(page, 'ben').locator('button.disconnect').click();
  await eventually(() => expect(ben.state).toBe('closed'), 15_000);
  expect(ben.lastClose?.code).toBe(4410);
  await sessionRow(page, 'ben').waitFor({ state: 'detached', ...WAIT });
  expect(ann.state).toBe('open');
  ann.close();
  ben.close();
  await page.close();
});
