/**
 * Herald on uWebSockets.js publishing one fast-moving topic (bench scenario 13): `price/{symbol}`,
 * conflated (latest only) unless `BENCH_CONFLATE=0`. Once the runner writes `start` on stdin
 * (every subscriber has its answer), it publishes `BENCH_RATE` messages of about 0.5 KB a second for `BENCH_SECONDS`, each carrying the
 * time it was published (`at`, ms since the epoch with a fraction), then prints `PUBLISHED <n>`.
 * `stats` on stdin is answered `STATS <slow> <fast> <slowFull> <fastFull> <published> <cpu>`: bytes
 * held in the send buffers of the slow subscribers (users `u<BENCH_SLOW_FROM>` and after) and of the
 * fast ones, how many of each are above the high-water mark (those the topic holds frames back
 * from), messages published so far, and once the last is out the process's CPU seconds then (-1 before).
 */
import { createInterface } from 'node:readline';
import { createHerald, defineContract, type Schema } from '@herald/core';
import { serveHerald } from '@herald/uws';
import { userOfToken } from '../shared.ts';
import { ready } from './control.ts';

const conflate = process.env['BENCH_CONFLATE'] !== '0';
const rate = Number(process.env['BENCH_RATE'] ?? 1000);
const seconds = Number(process.env['BENCH_SECONDS'] ?? 30);
const slowFrom = Number(process.env['BENCH_SLOW_FROM'] ?? Number.POSITIVE_INFINITY);

const any: Schema<any> = { '~standard': { version: 1, vendor: 'bench', validate: (value) => ({ value }) } };
const contract = defineContract({
  requests: {},
  notifications: { 'bench.Price': { body: any } },
  topics: { 'price/{symbol}': { notifications: ['bench.Price'], ...(conflate ? { conflate: true } : {}) } },
});

const herald = createHerald({
  contract,
  handlers: {},
  // 64 KiB instead of 1 MiB (the runner's BENCH_HIGH_WATER_MARK): beyond the kernel's socket
  // buffers, a slow subscriber falls behind within seconds rather than minutes into the run.
  highWaterMark: Number(process.env['BENCH_HIGH_WATER_MARK'] ?? 64 * 1024),
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
// About 0.5 KB a frame (510 B): a quote with its order book, a few levels changing each time. `at` comes
// first, so the generator finds it without scanning the rest.
const levels = Array.from({ length: 20 }, (_, i) => [100 + i / 100, 1000 + i * 37]);
const body = (n: number) => {
  const level = levels[n % levels.length] as number[];
  level[1] = 1000 + (n % 997);
  return { at: now(), symbol: 'ACME', n, bid: 100 + (n % 97) / 100, ask: 100.02 + (n % 89) / 100, volume: 1_000_000 + n, venue: 'XNAS', book: levels };
};

const inspection = herald.inspection();
const stats = () => {
  const held = { slow: 0, fast: 0, slowFull: 0, fastFull: 0 };
  for (const session of inspection.snapshot().sessions) {
    const slow = Number(session.userId?.slice(1)) >= slowFrom;
    held[slow ? 'slow' : 'fast'] += session.bufferedBytes;
    if (session.bufferedBytes > herald.highWaterMark) held[slow ? 'slowFull' : 'fastFull']++;
  }
  return `STATS ${held.slow} ${held.fast} ${held.slowFull} ${held.fastFull} ${published} ${cpuAtEnd}\n`;
};

let started = false;
let published = 0;
let cpuAtEnd = -1;
createInterface({ input: process.stdin }).on('line', (line) => {
  if (line.trim() === 'start') started = true;
  if (line.trim() === 'stats') process.stdout.write(stats());
});

const waiting = setInterval(() => {
  if (!started) return;
  clearInterval(waiting);
  const start = now();
  const total = rate * seconds;
  // Publishes what is due by the clock every 5 ms: the rate holds whatever the timer's jitter.
  const ticker = setInterval(() => {
    const due = Math.min(total, Math.floor(((now() - start) * rate) / 1000));
    while (published < due) void herald.publish('price/ACME', 'bench.Price', body(++published));
    if (published >= total) {
      clearInterval(ticker);
      const { user, system } = process.cpuUsage();
      cpuAtEnd = (user + system) / 1e6;
      process.stdout.write(`PUBLISHED ${published}\n`);
    }
  }, 5);
}, 50);
