/**
 * Backend restarts hidden from clients: two backends on one Redis (shared sessions and topics)
 * behind the gateway; clients subscribed to a topic and receiving private notifications. One
 * backend is shut down gracefully (Goodbye 4503) and restarted, then the other is killed
 * (SIGKILL) and restarted. The gateway resumes each session on the other backend for its
 * client: every client keeps its one socket, and gets every message once and in order.
 */
import { msgpack } from '@herald/core/msgpack';
import { RedisBroker, RedisSessionStore } from '@herald/redis';
import { startRedis, type RedisServer } from '@herald/redis/testing';
import { eventually } from '@herald/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import WebSocket from 'ws';
import { serveGateway, type Gateway } from '../src/index.ts';
import { createBackendHerald } from './backend-app.ts';
import { openLongPoll } from './long-poll-client.ts';
import { startBackend, START_BOUND_MS, type BackendProcess } from './processes.ts';
import { tally } from './tally.ts';

const CLIENTS = Number(process.env['HERALD_GATEWAY_CLIENTS'] ?? 20);
/** Long-poll clients beside them, polling the gateway's own endpoints (the backends serve WebSocket only). */
const LONG_POLL_CLIENTS = Number(process.env['HERALD_GATEWAY_LONG_POLL_CLIENTS'] ?? 10);
/** WebSocket clients in `herald.v1.msgpack`, whose binary frames the gateway reads to move their sessions too. */
const MSGPACK_CLIENTS = Number(process.env['HERALD_GATEWAY_MSGPACK_CLIENTS'] ?? 6);
const LINKS = CLIENTS + LONG_POLL_CLIENTS + MSGPACK_CLIENTS;
const codec = msgpack();
const TICK_MS = 25;
const PRIVATE_MS = 100;

let redis: RedisServer;
const backends: (BackendProcess | undefined)[] = [];
const ports: number[] = [];
let gateway: Gateway;

async function start(i: number): Promise<void> {
  backends[i] = await startBackend({ REDIS_URL: redis.url, NODE: `node-${i}` }, ports[i]);
  ports[i] = backends[i]!.port;
}

beforeAll(async () => {
  redis = await startRedis();
  await Promise.all([start(0), start(1)]);
  gateway = await serveGateway({
    backends: ports.map((port) => `ws://127.0.0.1:${port}/ws`),
    strategy: 'round-robin',
    port: 0,
    host: '127.0.0.1',
    healthIntervalMs: 200,
    relinkTimeoutMs: 20_000,
    logger: { info() {}, warn: (fields, message) => console.log(message, fields), error: (fields, message) => console.log(message, fields) },
  });
}, 2 * START_BOUND_MS);

afterAll(async () => {
  await gateway?.close();
  await Promise.all(backends.map((backend) => backend?.kill()));
  await redis?.stop();
});

interface Observed {
  readonly userId: string;
  readonly transport: 'websocket' | 'long-poll' | 'msgpack';
  /** Closes it on purpose, at the end. */
  close(): void;
  readonly ticks: number[];
  readonly privates: number[];
  closed: number | undefined;
  joinedAt: number | undefined;
  /** The frames it got before its join was answered, to say why a join never was. */
  readonly early: string[];
}

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([promise, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms))]);
}

const observers: Observed[] = [];

/** The clients whose join was not answered, with what they got and how their socket ended. */
function unjoined(): string {
  return observers
    .filter((o) => o.joinedAt === undefined)
    .map((o) => `${o.userId} (socket ${o.closed === undefined ? 'open' : `closed ${o.closed}`}; got ${JSON.stringify(o.early)})`)
    .join('; ');
}

/** A WebSocket client, in `herald.v1` or (`binary`) in `herald.v1.msgpack`. */
function observe(userId: string, binary = false): Promise<Observed> {
  const socket = new WebSocket(`ws://127.0.0.1:${gateway.port}/ws`, binary ? codec.protocol : 'herald.v1', { headers: { authorization: `Bearer user:${userId}` } });
  const observed: Observed = { userId, transport: binary ? 'msgpack' : 'websocket', close: () => socket.close(1000), ticks: [], privates: [], closed: undefined, joinedAt: undefined, early: [] };
  observers.push(observed);
  const send = (message: object) => socket.send(binary ? codec.encode(message) : JSON.stringify(message));
  const opened = Date.now();
  return new Promise((resolve, reject) => {
    socket.on('error', (error) => {
      // A frame `ws` refuses ends the socket, seen as 1006 on this side: say which.
      if (observed.joinedAt === undefined) observed.early.push(`error "${error.message}" at ${Date.now() - opened} ms`);
      reject(error);
    });
    socket.on('close', (code, reason) => {
      observed.closed = code;
      if (observed.joinedAt === undefined) observed.early.push(`close ${code} "${String(reason)}" at ${Date.now() - opened} ms`);
    });
    socket.on('message', (data: Buffer, isBinary) => {
      if (isBinary !== binary) reject(new Error(`${userId}: a ${isBinary ? 'binary' : 'text'} frame`));
      const decoded: unknown = binary ? codec.decode(data) : JSON.parse(String(data));
      if (observed.joinedAt === undefined) observed.early.push(JSON.stringify(decoded).slice(0, 200));
      const message = decoded as { kind: string; type?: string; reqId?: string; seq?: number; body?: { n?: number; offset?: number } };
      if (message.type === 'herald.Welcome') send({ kind: 'req', id: 'join', type: 'test.Join', body: { room: 'r' } });
      else if (message.reqId === 'join') {
        observed.joinedAt = message.body?.offset;
        resolve(observed);
      } else if (message.type === 'test.Tick') observed.ticks.push(message.body?.n ?? -1);
      else if (message.type === 'test.Private') {
        observed.privates.push(message.body?.n ?? -1);
        send({ kind: 'ack', seq: message.seq });
      }
    });
  });
}

/** The same client over long-poll: acks and the join go in sends, everything else arrives in polls. */
async function observeLongPoll(userId: string): Promise<Observed> {
  const opened = await openLongPoll(`http://127.0.0.1:${gateway.port}/lp`, { authorization: `Bearer user:${userId}` });
  if (!opened.ok) throw new Error(`long-poll open refused: ${opened.status} ${JSON.stringify(opened.body)}`);
  const lp = opened.client;
  const observed: Observed = { userId, transport: 'long-poll', close: () => void lp.close(), ticks: [], privates: [], closed: undefined, joinedAt: undefined, early: [] };
  observers.push(observed);
  return new Promise((resolve, reject) => {
    const take = (message: Record<string, unknown>): void => {
      const body = message['body'] as { n?: number; offset?: number } | undefined;
      if (observed.joinedAt === undefined) observed.early.push(JSON.stringify(message).slice(0, 200));
      if (message['type'] === 'herald.Welcome') lp.send({ kind: 'req', id: 'join', type: 'test.Join', body: { room: 'r' } }).catch(reject);
      else if (message['reqId'] === 'join') {
        observed.joinedAt = body?.offset;
        resolve(observed);
      } else if (message['type'] === 'test.Tick') observed.ticks.push(body?.n ?? -1);
      else if (message['type'] === 'test.Private') {
        observed.privates.push(body?.n ?? -1);
        lp.send({ kind: 'ack', seq: message['seq'] }).catch(() => {});
      }
    };
    lp.onMessage = take;
    lp.onClose = (code) => (observed.closed = code);
    for (const message of lp.messages) take(message);
  });
}

it(`${CLIENTS} WebSocket (and ${MSGPACK_CLIENTS} in herald.v1.msgpack) and ${LONG_POLL_CLIENTS} long-poll clients keep their connection and every message while both backends restart in turn`, async () => {
  const publisherStore = new RedisSessionStore({ redis: redis.url });
  await publisherStore.ready;
  const publisher = createBackendHerald({ node: 'publisher', broker: new RedisBroker({ redis: redis.url }), sessionStore: publisherStore });
  const clients = await within(
    Promise.all([
      ...Array.from({ length: CLIENTS }, (_, i) => observe(`u${i}`)),
      ...Array.from({ length: MSGPACK_CLIENTS }, (_, i) => observe(`mp${i}`, true)),
      ...Array.from({ length: LONG_POLL_CLIENTS }, (_, i) => observeLongPoll(`lp${i}`)),
    ]),
    30_000,
    'clients joined',
  ).catch((error: unknown) => {
    throw new Error(`${String(error)}; not joined: ${unjoined()}; gateway stats ${JSON.stringify(gateway.stats)}`);
  });
  expect(new Set(gateway.backends.map((backend) => backend.links))).toEqual(new Set([LINKS / 2]));

  let ticks = 0;
  let privates = 0;
  let publishing = true;
  const tickLoop = (async () => {
    while (publishing) {
      await publisher.publish('room/r', 'test.Tick', { n: ++ticks });
      await new Promise((resolve) => setTimeout(resolve, TICK_MS));
    }
  })();
  const privateLoop = (async () => {
    while (publishing) {
      const n = ++privates;
      await Promise.all(clients.map((client) => publisher.sendToUser(client.userId, 'test.Private', { n })));
      await new Promise((resolve) => setTimeout(resolve, PRIVATE_MS));
    }
  })();
  const settle = () => new Promise((resolve) => setTimeout(resolve, 1500));

  await settle();
  // A rolling deploy: backend 0 shuts down gracefully (Goodbye 4503) and comes back.
  const graceful = backends[0]!;
  const exited = new Promise((resolve) => graceful.process.once('exit', resolve));
  graceful.process.kill('SIGTERM');
  await within(exited, 30_000, 'graceful shutdown of backend 0');
  await eventually(() => expect(gateway.stats.relinks).toBe(LINKS / 2), 30_000, 50);
  const afterGraceful = { ...gateway.stats };
  await start(0);
  await eventually(() => expect(gateway.backends.every((backend) => backend.healthy)).toBe(true), 20_000, 50);
  await settle();
  // Backend 1 dies (SIGKILL): its clients (all of them by now) move to backend 0.
  const onDying = gateway.backends.find((backend) => backend.url.includes(`:${ports[1]}/`))?.links ?? 0;
  expect(onDying).toBe(LINKS);
  await backends[1]!.kill();
  await eventually(() => expect(gateway.stats.relinks).toBe(afterGraceful.relinks + onDying), 30_000, 50);
  await start(1);
  await settle();
  publishing = false;
  await within(Promise.all([tickLoop, privateLoop]), 30_000, 'publishers stopped');

  await eventually(() => {
    for (const client of clients) {
      expect(client.ticks.at(-1)).toBe(ticks);
      expect(client.privates.at(-1)).toBe(privates);
    }
  }, 30_000, 50);
  const totals = { lost: 0, duplicated: 0, reordered: 0, disconnected: 0 };
  for (const client of clients) {
    const topic = tally(client.ticks, client.ticks[0] ?? 1, ticks);
    const own = tally(client.privates, 1, privates);
    totals.lost += topic.lost + own.lost;
    totals.duplicated += topic.duplicated + own.duplicated;
    totals.reordered += topic.reordered + own.reordered;
    if (client.closed !== undefined) totals.disconnected++;
    if (topic.duplicated + own.duplicated + topic.lost + own.lost > 0 && totals.duplicated + totals.lost <= 4) {
      const around = (seen: number[]) => seen.filter((n, i) => i > 0 && n <= (seen[i - 1] as number)).slice(0, 3).map((n) => seen.slice(Math.max(0, seen.indexOf(n) - 3), seen.indexOf(n) + 4).join(','));
      console.log(`${client.userId}: topic ${JSON.stringify(topic)} ${around(client.ticks)}; private ${JSON.stringify(own)} ${around(client.privates)}`);
    }
  }
  console.log(
    `restart: ${CLIENTS} WebSocket, ${MSGPACK_CLIENTS} MessagePack and ${LONG_POLL_CLIENTS} long-poll clients, ${ticks} topic and ${privates} private notifications each; relinks ${gateway.stats.relinks} ` +
      `(graceful: ${afterGraceful.relinks}, max ${afterGraceful.maxRelinkMs} ms; after SIGKILL: max ${gateway.stats.maxRelinkMs} ms), failures ${gateway.stats.relinkFailures}, duplicates dropped at the gateway ${gateway.stats.duplicatesDropped}; ` +
      `lost ${totals.lost}, duplicated ${totals.duplicated}, reordered ${totals.reordered}, disconnected ${totals.disconnected}`,
  );
  expect(totals).toEqual({ lost: 0, duplicated: 0, reordered: 0, disconnected: 0 });
  expect(gateway.stats.relinkFailures).toBe(0);
  // Each client's first tick is the one after the offset its join answered.
  for (const client of clients) expect(client.ticks[0]).toBeLessThanOrEqual((client.joinedAt ?? 0) + 1);
  for (const client of clients) client.close();
  await publisher.close();
}, 180_000);
