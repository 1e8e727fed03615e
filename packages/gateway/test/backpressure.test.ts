/**
 * A client that stops reading while its topic floods: the gateway holds at most
 * `maxBackpressure` for it (it stops reading from the backend past `highWaterMark`), and the
 * client is told to resume (Goodbye and a resumable close) instead of the gateway's memory growing.
 */
import { connect, eventually } from '@herald/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import WebSocket from 'ws';
import { serveGateway, type Gateway } from '../src/index.ts';
import { startBackend, START_BOUND_MS, type BackendProcess } from './processes.ts';

const HIGH_WATER_MARK = 256 * 1024;
const MAX_BACKPRESSURE = 1024 * 1024;
const KIB = 64;
const COUNT = 300;

let backend: BackendProcess;
let gateway: Gateway;

beforeAll(async () => {
  backend = await startBackend();
  gateway = await serveGateway({
    backends: [backend.url],
    port: 0,
    host: '127.0.0.1',
    highWaterMark: HIGH_WATER_MARK,
    maxBackpressure: MAX_BACKPRESSURE,
    keepAlive: { intervalMs: 1000, graceMs: 1000 },
    relink: false,
    logger: { info() {}, warn() {}, error() {} },
  });
}, START_BOUND_MS);

afterAll(async () => {
  await gateway?.close();
  await backend?.kill();
});

it(`holds at most maxBackpressure for a client that stopped reading while ${(KIB * COUNT) / 1024} MiB were published to it`, async () => {
  const url = `ws://127.0.0.1:${gateway.port}/ws`;
  const slow = new WebSocket(url, 'herald.v1', { headers: { authorization: 'Bearer user:slow' } });
  const frames: { type?: string; body?: { code?: number }; kind?: string; reqId?: string }[] = [];
  slow.on('message', (data) => frames.push(JSON.parse(String(data))));
  const closed = new Promise<number>((resolve) => slow.on('close', (code) => resolve(code)));
  await new Promise((resolve) => slow.once('open', resolve));
  slow.send(JSON.stringify({ kind: 'req', id: 'join', type: 'test.Join', body: { room: 'big' } }));
  while (!frames.some((frame) => frame.reqId === 'join')) await new Promise((resolve) => setTimeout(resolve, 10));
  (slow as unknown as { _socket: { pause(): void; resume(): void } })._socket.pause();

  let highest = 0;
  const sampler = setInterval(() => (highest = Math.max(highest, gateway.bufferedBytes)), 2);
  const publisher = await connect(url, { headers: { authorization: 'Bearer user:publisher' }, timeoutMs: 120_000 });
  const published = await publisher.request('test.Big', { kib: KIB, count: COUNT });
  expect(published).toMatchObject({ code: 200, body: { sent: COUNT } });
  // Keep-alive acts on the link stuck behind the slow client; the client reads again at once
  // then, before uWS gives up on delivering the close frame queued behind what it holds.
  await eventually(() => expect(gateway.stats.slowConsumers).toBe(1), 60_000, 5);
  clearInterval(sampler);
  highest = Math.max(highest, gateway.bufferedBytes);
  console.log(`slow client: at most ${(highest / 1024).toFixed(0)} KiB held by the gateway (bound ${MAX_BACKPRESSURE / 1024} KiB) while ${(KIB * COUNT) / 1024} MiB were published`);
  expect(highest).toBeGreaterThan(HIGH_WATER_MARK / 2);
  expect(highest).toBeLessThanOrEqual(MAX_BACKPRESSURE + KIB * 1024 + 1024);

  (slow as unknown as { _socket: { resume(): void } })._socket.resume();
  const code = await closed;
  const ticks = frames.filter((frame) => frame.type === 'test.Tick').length;
  console.log(`slow client: closed ${code} after ${ticks} of ${COUNT} notifications`);
  expect(code).toBe(4507);
  expect(gateway.stats.slowConsumers).toBe(1);
  expect(frames.at(-1)).toMatchObject({ type: 'herald.Goodbye', body: { code } });
  expect(ticks).toBeLessThan(COUNT);
  // The well-behaved client on the same gateway is untouched.
  expect(await publisher.request('test.Echo', { text: 'still here' })).toMatchObject({ code: 200 });
  await publisher.close();
}, 180_000);
