/**
 * Micro-benchmark of the core's per-message work, with no network: a ~100-byte request in,
 * its response out, against the codec ceiling (bare JSON.parse + JSON.stringify of the same
 * frames); one topic publish to many subscribers, which must encode once; and the JS heap
 * held per idle authenticated session (subscribed to `$all`, one user each).
 *
 *   pnpm --filter @herald/core bench          full run
 *   pnpm --filter @herald/core bench --smoke  a few thousand messages, for CI
 */
import type { StandardSchemaV1 } from '@standard-schema/spec';
import { z } from 'zod';
import { createHerald, defineContract, type HeraldSocket } from '../src/index.ts';
import { msgpack } from '../src/msgpack.ts';

const smoke = process.argv.includes('--smoke');
const N = smoke ? 5_000 : 1_000_000;
const RUNS = smoke ? 1 : 5;

/** A schema that accepts anything: isolates Herald's own overhead from the schema library's. */
const any: StandardSchemaV1<unknown, any> = { '~standard': { version: 1, vendor: 'bench', validate: (value) => ({ value }) } };
const contract = defineContract({
  requests: {
    'bench.Echo': { request: any, response: any },
    'bench.Zod': { request: z.object({ user: z.string(), text: z.string(), n: z.number() }), response: any },
  },
  notifications: { 'bench.Tick': { body: any } },
});

let sent = 0;
let bytes = 0;
const socket: HeraldSocket = {
  send: (frame) => {
    sent++;
    bytes += frame.length;
  },
  close: () => {},
  bufferedAmount: 0,
};
const herald = createHerald({
  contract,
  handlers: { 'bench.Echo': (body) => body, 'bench.Zod': (body) => body },
  limits: { rateLimit: { messagesPerSecond: 1e9, burst: 1e12 }, dedupWindow: 256 },
  // One session sends every request at once: the processing budget would throttle it.
  processingBudget: false,
  subscribeToBroadcast: false,
});

const frames = (type: string) =>
  Array.from({ length: N }, (_, i) => JSON.stringify({ kind: 'req', id: String(i), type, body: { user: 'u-10077', text: 'hello there, general kenobi', n: i } }));

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

function measure(name: string, run: () => void): number {
  const rates: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const start = performance.now();
    run();
    rates.push(N / ((performance.now() - start) / 1000));
  }
  const rate = median(rates);
  console.log(`${name.padEnd(44)} ${(rate / 1e6).toFixed(3)} M msg/s`);
  return rate;
}

const echo = frames('bench.Echo');
const zodFrames = frames('bench.Zod');
const bare = measure('codec ceiling: JSON.parse + JSON.stringify', () => {
  for (const frame of echo) {
    const m = JSON.parse(frame);
    socket.send(JSON.stringify({ kind: 'resp', reqId: m.id, type: m.type, code: 200, body: m.body }));
  }
});
const run = (list: string[]) => () => {
  const connection = herald.open(socket, { ok: true, protocol: 'herald.v1', client: 'native', principal: { userId: 'bench' } });
  const before = sent;
  for (const frame of list) connection.receive(frame);
  if (sent - before < N) throw new Error(`only ${sent - before} of ${N} responses were sent synchronously`);
  connection.closed(1000);
};
const core = measure('herald core: decode, route, dedup, respond', run(echo));
measure('herald core with a Zod schema', run(zodFrames));
console.log(`herald core / codec ceiling: ${(core / bare).toFixed(2)}`);

// herald.v1.msgpack: the same requests as MessagePack frames, answered in MessagePack.
const codec = msgpack();
const packed = echo.map((frame) => codec.encode(JSON.parse(frame)));
const bareMsgpack = measure('codec ceiling: msgpack unpack + pack', () => {
  for (const frame of packed) {
    const m = codec.decode(frame) as { id: string; type: string; body: unknown };
    socket.send(codec.encode({ kind: 'resp', reqId: m.id, type: m.type, code: 200, body: m.body }));
  }
});
const binaryHerald = createHerald({ contract, handlers: { 'bench.Echo': (body) => body, 'bench.Zod': (body) => body }, codecs: [codec], limits: { rateLimit: { messagesPerSecond: 1e9, burst: 1e12 }, dedupWindow: 256 }, processingBudget: false, subscribeToBroadcast: false });
const coreMsgpack = measure('herald core in herald.v1.msgpack', () => {
  const connection = binaryHerald.open(socket, { ok: true, protocol: 'herald.v1.msgpack', client: 'native', principal: { userId: 'bench' } });
  const before = sent;
  for (const frame of packed) connection.receive(frame);
  if (sent - before < N) throw new Error(`only ${sent - before} of ${N} responses were sent synchronously`);
  connection.closed(1000);
});
console.log(`msgpack codec ceiling / JSON codec ceiling: ${(bareMsgpack / bare).toFixed(2)}; herald core msgpack / JSON: ${(coreMsgpack / core).toFixed(2)}`);
await binaryHerald.close();

const SUBSCRIBERS = smoke ? 100 : 10_000;
const fanout = createHerald({ contract, handlers: { 'bench.Echo': (b) => b, 'bench.Zod': (b) => b }, subscribeToBroadcast: false });
const frameIdentity = new Set<string>();
const counting: HeraldSocket = { send: (frame) => void frameIdentity.add(frame as string), close: () => {}, bufferedAmount: 0 };
for (let i = 0; i < SUBSCRIBERS; i++) {
  const connection = fanout.open(counting, { ok: true, protocol: 'herald.v1', client: 'native', principal: { userId: `u${i}` } });
  await fanout.subscribe(connection.session, 'ticker');
}
frameIdentity.clear();
const start = performance.now();
await fanout.publish('ticker', 'bench.Tick', { price: 101.5, symbol: 'HRLD' });
const ms = performance.now() - start;
console.log(`publish to ${SUBSCRIBERS} subscribers: ${ms.toFixed(2)} ms, ${frameIdentity.size} distinct frame(s) sent`);
if (frameIdentity.size !== 1) throw new Error('a topic message must be encoded once for all subscribers');
await herald.close();
await fanout.close();

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with node --expose-gc');
const SESSIONS = smoke ? 1_000 : 10_000;
const idle = createHerald({ contract, handlers: { 'bench.Echo': (b) => b, 'bench.Zod': (b) => b } });
const quiet: HeraldSocket = { send: () => {}, close: () => {}, bufferedAmount: 0 };
gc();
const heapBefore = process.memoryUsage().heapUsed;
for (let i = 0; i < SESSIONS; i++) idle.open(quiet, { ok: true, protocol: 'herald.v1', client: 'native', principal: { userId: `user-${i}` } });
await new Promise((resolve) => setTimeout(resolve, 10));
gc();
const perSession = (process.memoryUsage().heapUsed - heapBefore) / SESSIONS;
console.log(`idle authenticated sessions: ${idle.stats.sessions}, ${perSession.toFixed(0)} bytes of JS heap each`);
await idle.close();
