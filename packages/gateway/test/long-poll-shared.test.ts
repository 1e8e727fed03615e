/**
 * Long-poll at the edge without stickiness: two gateways share their long-poll connections in
 * Redis (`RedisLongPollStore`), and a client's requests go to one gateway, then the other, in
 * turn, as a load balancer that pins nothing would send them. The gateway that opened the
 * connection holds its backend leg; sends reaching the other one get to it, and polls on either
 * bring what it relayed.
 */
import { RedisLongPollStore, RedisSessionStore } from '@herald/redis';
import { startRedis, type RedisServer } from '@herald/redis/testing';
import { connect, eventually } from '@herald/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { serveGateway, type Gateway } from '../src/index.ts';
import { openLongPoll } from './long-poll-client.ts';
import { startBackend, START_BOUND_MS, type BackendProcess } from './processes.ts';

const BOUND_MS = 30_000;
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

let redis: RedisServer;
let backend: BackendProcess;
const gateways: Gateway[] = [];
/** Each gateway's identity in Redis (node id and heartbeat), which its long-poll store needs. */
const identities: RedisSessionStore[] = [];
const stores: RedisLongPollStore[] = [];

beforeAll(async () => {
  redis = await startRedis();
  backend = await startBackend();
  for (let i = 0; i < 2; i++) {
    const identity = new RedisSessionStore({ redis: redis.url });
    await identity.ready;
    const store = new RedisLongPollStore({ redis: redis.url, sessionStore: identity });
    await store.ready;
    identities.push(identity);
    stores.push(store);
    gateways.push(await serveGateway({ backends: [backend.url], port: 0, host: '127.0.0.1', relink: false, longPoll: { store }, logger: quiet }));
  }
}, 2 * START_BOUND_MS);

afterAll(async () => {
  for (const gateway of gateways) await gateway.close();
  for (const store of stores) await store.disconnect();
  for (const identity of identities) await identity.close();
  await backend?.kill();
  await redis?.stop();
});

it('serves one long-poll session through two gateways, every request to the next one', async () => {
  const [first, second] = gateways as [Gateway, Gateway];
  const urls = [`http://127.0.0.1:${first.port}/lp`, `http://127.0.0.1:${second.port}/lp`];
  const opened = await openLongPoll(urls, { authorization: 'Bearer user:lp-roaming' });
  if (!opened.ok) throw new Error(`open refused: ${opened.status} ${JSON.stringify(opened.body)}`);
  const client = opened.client;
  expect(client.messages[0]).toMatchObject({ type: 'herald.Welcome', body: { authenticated: true } });
  // The first gateway holds the backend leg; the second never opens one.
  expect([first.stats.linksOpen, second.stats.linksOpen]).toEqual([1, 0]);

  const answer = (id: string) => client.messages.find((message) => message['reqId'] === id);
  for (let i = 0; i < 6; i++) {
    await client.send({ kind: 'req', id: `echo-${i}`, type: 'test.Echo', body: { text: `turn ${i}` } });
    await eventually(() => expect(answer(`echo-${i}`)).toMatchObject({ code: 200, body: { text: `turn ${i}` } }), BOUND_MS);
  }
  await client.send({ kind: 'req', id: 'join', type: 'test.Join', body: { room: 'big' } });
  await eventually(() => expect(answer('join')).toMatchObject({ code: 200 }), BOUND_MS);
  const publisher = await connect(`ws://127.0.0.1:${second.port}/ws`, { headers: { authorization: 'Bearer user:lp-publisher' } });
  expect(await publisher.request('test.Big', { kib: 0, count: 100 })).toMatchObject({ code: 200 });
  const ticks = () => client.messages.filter((message) => message['type'] === 'test.Tick').map((message) => (message['body'] as { n: number }).n);
  await eventually(() => expect(ticks().length).toBe(100), BOUND_MS);
  expect(ticks()).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
  expect(client.closed).toBeUndefined();
  await publisher.close();

  // A DELETE reaching either gateway ends the backend leg the first one holds.
  await client.close();
  await eventually(() => expect(first.stats.linksOpen).toBe(0), BOUND_MS);
  await eventually(async () => expect((await backend.stats()).connections).toBe(0), BOUND_MS);
}, 4 * BOUND_MS);
