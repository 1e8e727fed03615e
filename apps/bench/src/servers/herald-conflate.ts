/**
 * Herald on uWebSockets.js publishing one fast-moving topic (bench scenario 13): `price/{symbol}`,
 * conflated (latest only) unless `BENCH_CONFLATE=0`. Once the runner writes `start` on stdin
 * (every subscriber has its answer), it publishes `BENCH_RATE` messages of about 1 KB a second for `BENCH_SECONDS`, each carrying the
 * time it was published (`at`, ms since the epoch with a fraction), then prints `PUBLISHED <n>`.
 */
import { createInterface } from 'node:readline';
import { createHerald, defineContract, type Schema } from '@herald/core';
import { serveHerald } from '@herald/uws';
import { userOfToken } from '../shared.ts';
import { ready } from './control.ts';

const conflate = process.env['BENCH_CONFLATE'] !== '0';
const rate = Number(process.env['BENCH_RATE'] ?? 1000);
const seconds = Number(process.env['BENCH_SECONDS'] ?? 30);

const any: Schema<any> = { '~standard': { version: 1, vendor: 'bench', validate: (value) => ({ value }) } };
const contract = defineContract({
  requests: {},
  notifications: { 'bench.Price': { body: any } },
  topics: { 'price/{symbol}': { notifications: ['bench.Price'], ...(conflate ? { conflate: true } : {}) } },
});

const herald = createHerald({
  contract,
  handlers: {},
  // 64 KiB instead of 1 MiB: beyond the kernel's socket buffers, a slow subscriber falls behind
  // within the run rather than minutes into it.
  highWaterMark: 64 * 1024,
  upgradeRateLimit: false,
  subscribeToBroadcast: false,
  limits: { rateLimit: { messagesPerSecond: 1e9, burst: 1e9 }, maxConnectionsPerAddress: 1e9, pingIntervalMs: 120_000, pingTimeoutMs: 60_000 },
  authenticate: (token) => {
    const userId = userOfToken(token);
    return userId === null ? null : { userId };
  },
  canSubscribe: () => true,
});
const server = await serveHerald(herald, { port: 0, host: '127.0.0.1', path: '/ws' });
ready(server.port);

const now = () => performance.timeOrigin + performance.now();
// About 1 KB a frame: a quote with its order book, a few levels changing each time. `at` comes
// first, so the generator finds it without scanning the rest.
const levels = Array.from({ length: 20 }, (_, i) => [100 + i / 100, 1000 + i * 37]);
const body = (n: number) => {
  const level = levels[n % levels.length] as number[];
  level[1] = 1000 + (n % 997);
  return { at: now(), symbol: 'ACME', n, bid: 100 + (n % 97) / 100, ask: 100.02 + (n % 89) / 100, volume: 1_000_000 + n, venue: 'XNAS', book: levels };
};

let started = false;
createInterface({ input: process.stdin }).on('line', (line) => {
  if (line.trim() === 'start') started = true;
});

const waiting = setInterval(() => {
  if (!started) return;
  clearInterval(waiting);
  let published = 0;
  const start = now();
  const total = rate * seconds;
  // Publishes what is due by the clock every 5 ms: the rate holds whatever the timer's jitter.
  const ticker = setInterval(() => {
    const due = Math.min(total, Math.floor(((now() - start) * rate) / 1000));
    while (published < due) void herald.publish('price/ACME', 'bench.Price', body(++published));
    if (published >= total) {
      clearInterval(ticker);
      process.stdout.write(`PUBLISHED ${published}\n`);
    }
  }, 5);
}, 50);
