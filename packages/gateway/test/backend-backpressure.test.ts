/**
 * Backpressure toward a backend that does not read (its process frozen with SIGSTOP, so its
 * socket buffers fill): past `highWaterMark` on the backend leg the gateway holds the client's
 * frames instead of buffering them without bound; once the backend reads again they go on, in
 * order, each answered once. A client that goes on sending `maxBackpressure` meanwhile is closed
 * with 4429; a backend that does not drain within the keep-alive grace is taken as lost (4502).
 */
import { eventually } from '@herald/testing';
import { afterEach, expect, it } from 'vitest';
import WebSocket from 'ws';
import { serveGateway, type Gateway } from '../src/index.ts';
import { startBackend, type BackendProcess } from './processes.ts';

const HIGH_WATER_MARK = 128 * 1024;
const MAX_BACKPRESSURE = 512 * 1024;
/** Below the node's `maxMessageBytes` (64 KiB). */
const TEXT = 'x'.repeat(16 * 1024);
/** Bounds a hung test only; on a loaded machine a frozen node's kernel buffers take a while to fill. */
const BOUND_MS = 60_000;
const quiet = { info() {}, warn() {}, error() {} };

let backend: BackendProcess | undefined;
let gateway: Gateway | undefined;

afterEach(async () => {
  await gateway?.close();
  await backend?.kill();
});

async function start(graceMs: number): Promise<{ gateway: Gateway; backend: BackendProcess }> {
  backend = await startBackend();
  gateway = await serveGateway({
    backends: [backend.url],
    port: 0,
    host: '127.0.0.1',
    highWaterMark: HIGH_WATER_MARK,
    maxBackpressure: MAX_BACKPRESSURE,
    keepAlive: { intervalMs: 60_000, graceMs },
    relink: false,
    logger: quiet,
  });
  return { gateway, backend };
}

interface Client {
  readonly socket: WebSocket;
  readonly answers: Map<string, number>;
  readonly order: string[];
  readonly frames: { type?: string; body?: { code?: number; retryAfterMs?: number } }[];
  readonly closed: Promise<number>;
}

async function client(port: number): Promise<Client> {
  const socket = new WebSocket(`ws://127.0.0.1:${port}/ws`, 'herald.v1', { headers: { authorization: 'Bearer user:sender' } });
  const state: Client = { socket, answers: new Map(), order: [], frames: [], closed: new Promise((resolve) => socket.on('close', (code) => resolve(code))) };
  socket.on('message', (data) => {
    const message = JSON.parse(String(data)) as { kind: string; reqId?: string; code?: number; type?: string; body?: { code?: number } };
    state.frames.push(message);
    if (message.kind === 'resp' && message.reqId !== undefined) {
      state.answers.set(message.reqId, (state.answers.get(message.reqId) ?? 0) + 1);
      state.order.push(message.reqId);
    }
  });
  await new Promise((resolve, reject) => {
    socket.once('open', resolve);
    socket.once('error', reject);
  });
  await eventually(() => expect(state.frames.some((frame) => frame.type === 'herald.Welcome')).toBe(true), BOUND_MS);
  return state;
}

/** Sends echo requests to a frozen node until the gateway holds the client's frames. */
async function sendUntilHeld(gateway: Gateway, sender: Client): Promise<number> {
  let sent = 0;
  while (gateway.stats.backendPauses === 0) {
    sender.socket.send(JSON.stringify({ kind: 'req', id: `e${++sent}`, type: 'test.Echo', body: { text: TEXT } }));
    await new Promise((resolve) => setTimeout(resolve, 1));
    if (sent > 10_000) throw new Error('the gateway never held the frames for the frozen node');
  }
  return sent;
}

it('holds what the client sends while the backend leg is above the mark, and relays it in order once the backend reads', async () => {
  const { gateway, backend } = await start(BOUND_MS);
  const sender = await client(gateway.port);
  backend.process.kill('SIGSTOP');
  let sent = await sendUntilHeld(gateway, sender);
  // A few more while held: they wait in the gateway, not in the backend leg's socket.
  for (let i = 0; i < 8; i++) sender.socket.send(JSON.stringify({ kind: 'req', id: `e${++sent}`, type: 'test.Echo', body: { text: TEXT } }));
  await eventually(() => expect(gateway.bufferedTowardBackends).toBeGreaterThanOrEqual(HIGH_WATER_MARK + 8 * TEXT.length), BOUND_MS, 20);
  const held = gateway.bufferedTowardBackends;
  console.log(`backend frozen: ${sent} requests of ${TEXT.length / 1024} KiB sent; the gateway holds ${(held / 1024).toFixed(0)} KiB toward it (mark ${HIGH_WATER_MARK / 1024} KiB, bound ${MAX_BACKPRESSURE / 1024} KiB)`);
  expect(held).toBeLessThanOrEqual(HIGH_WATER_MARK + MAX_BACKPRESSURE);
  backend.process.kill('SIGCONT');
  await eventually(() => expect(sender.answers.size).toBe(sent), BOUND_MS, 20);
  expect([...sender.answers.values()].every((count) => count === 1)).toBe(true);
  expect(sender.order).toEqual(Array.from({ length: sent }, (_, i) => `e${i + 1}`));
  expect(gateway.stats).toMatchObject({ fastSenders: 0, backendStalls: 0 });
  sender.socket.close(1000);
}, 3 * BOUND_MS);

it('closes a client that goes on sending maxBackpressure to a backend that does not read with 4429', async () => {
  const { gateway, backend } = await start(BOUND_MS);
  const sender = await client(gateway.port);
  backend.process.kill('SIGSTOP');
  await sendUntilHeld(gateway, sender);
  let highest = 0;
  let sending = true;
  const closed = sender.closed.finally(() => (sending = false));
  while (sending) {
    highest = Math.max(highest, gateway.bufferedTowardBackends);
    sender.socket.send(JSON.stringify({ kind: 'req', id: `f${highest}`, type: 'test.Echo', body: { text: TEXT } }));
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  expect(await closed).toBe(4429);
  expect(sender.frames.at(-1)).toMatchObject({ type: 'herald.Goodbye', body: { code: 4429, retryAfterMs: 1000 } });
  expect(gateway.stats.fastSenders).toBe(1);
  expect(highest).toBeLessThanOrEqual(HIGH_WATER_MARK + MAX_BACKPRESSURE);
  backend.process.kill('SIGCONT');
}, 3 * BOUND_MS);

it('takes a backend leg that does not drain within the grace as lost: the client gets 4502 and resumes', async () => {
  const { gateway, backend } = await start(1000);
  const sender = await client(gateway.port);
  backend.process.kill('SIGSTOP');
  await sendUntilHeld(gateway, sender);
  expect(await sender.closed).toBe(4502);
  expect(sender.frames.at(-1)).toMatchObject({ type: 'herald.Goodbye', body: { code: 4502 } });
  expect(gateway.stats.backendStalls).toBe(1);
  backend.process.kill('SIGCONT');
}, 3 * BOUND_MS);
