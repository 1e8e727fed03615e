/**
 * Native publish against per-socket sends, on uWS with real sockets: the server-side cost of
 * handing one ~100-byte frame to N subscribers, and the time until the last one has it.
 *
 *   pnpm --filter @herald/uws bench          1,000 and 5,000 subscribers
 *   pnpm --filter @herald/uws bench --smoke  200 subscribers, for CI
 */
import { createHerald, defineContract, type StreamPosition } from '@herald/core';
import type { StandardSchemaV1 } from '@standard-schema/spec';
import WebSocket from 'ws';
import { loadUws, serveHerald } from '../src/index.ts';

const smoke = process.argv.includes('--smoke');
const SIZES = smoke ? [200] : [1000, 5000];
const ROUNDS = smoke ? 3 : 20;
const uws = loadUws();
const frame = JSON.stringify({ kind: 'notification', type: 'bench.Tick', topic: 'ticker', offset: 1, body: { symbol: 'HRLD', price: 101.25, at: 1_700_000_000_000 } });

async function clients(url: string, n: number, protocol?: string): Promise<{ sockets: WebSocket[]; received: () => number }> {
  let received = 0;
  const sockets: WebSocket[] = [];
  for (let i = 0; i < n; i += 200) {
    const batch = Array.from({ length: Math.min(200, n - i) }, () => {
      const ws = new WebSocket(url, protocol);
      ws.on('message', () => received++);
      sockets.push(ws);
      return new Promise((resolve) => ws.on('open', resolve));
    });
    await Promise.all(batch);
  }
  return { sockets, received: () => received };
}

async function until(done: () => boolean): Promise<void> {
  while (!done()) await new Promise((resolve) => setImmediate(resolve));
}

function median(values: number[]): number {
  return [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;
}

async function measure(n: number, publish: () => void | Promise<unknown>, received: () => number, perRound: number) {
  const enqueue: number[] = [];
  const delivery: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const target = received() + perRound;
    const start = performance.now();
    await publish();
    enqueue.push(performance.now() - start);
    await until(() => received() >= target);
    delivery.push(performance.now() - start);
  }
  return { enqueue: median(enqueue), delivery: median(delivery) };
}

async function rawUws(n: number, native: boolean) {
  const app = uws.App();
  const open = new Set<any>();
  app.ws('/*', { open: (ws) => void (native ? ws.subscribe('ticker') : open.add(ws)) });
  const listen = await new Promise<any>((resolve) => app.listen('127.0.0.1', 0, resolve));
  const { sockets, received } = await clients(`ws://127.0.0.1:${uws.us_socket_local_port(listen)}/`, n);
  const result = await measure(n, () => (native ? void app.publish('ticker', frame, false) : open.forEach((ws) => ws.send(frame, false))), received, n);
  sockets.forEach((ws) => ws.terminate());
  uws.us_listen_socket_close(listen);
  return result;
}

async function herald(n: number) {
  const any: StandardSchemaV1<unknown, any> = { '~standard': { version: 1, vendor: 'bench', validate: (value) => ({ value }) } };
  const contract = defineContract({ requests: {}, notifications: { 'bench.Tick': { body: any } } });
  const server = createHerald({ contract, handlers: {}, upgradeRateLimit: false, subscribeToBroadcast: false, canSubscribe: () => true });
  const running = await serveHerald(server, { port: 0, host: '127.0.0.1' });
  const { sockets, received } = await clients(`ws://127.0.0.1:${running.port}/ws`, n, 'herald.v1');
  sockets.forEach((ws, i) => ws.send(JSON.stringify({ kind: 'req', id: `s${i}`, type: 'herald.Subscribe', body: { topic: 'ticker' } })));
  await until(() => received() >= 2 * n);
  const body = { symbol: 'HRLD', price: 101.25, at: 1_700_000_000_000 };
  const result = await measure(n, (): Promise<StreamPosition> => server.publish('ticker', 'bench.Tick', body), received, n);
  sockets.forEach((ws) => ws.terminate());
  await running.close();
  return result;
}

console.log('| subscribers | uWS native publish | uWS per-socket sends | Herald publish (native) |');
console.log('|---|---|---|---|');
for (const n of SIZES) {
  const native = await rawUws(n, true);
  const loop = await rawUws(n, false);
  const ours = await herald(n);
  const cell = (r: { enqueue: number; delivery: number }) => `${r.enqueue.toFixed(2)} ms server / ${r.delivery.toFixed(1)} ms to last`;
  console.log(`| ${n} | ${cell(native)} | ${cell(loop)} | ${cell(ours)} |`);
}
console.log(`(medians of ${ROUNDS} publishes; clients run in this process, so "to last" includes their parsing)`);
process.exit(0);
