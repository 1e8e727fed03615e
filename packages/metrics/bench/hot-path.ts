/**
 * What the meter costs per request, with no network: the same ~100-byte request in and its answer
 * out on two in-process servers, one without a meter and one with `prometheusMetrics`, measured in
 * alternating rounds of one process so that the machine's load lands on both alike.
 *
 *   pnpm --filter @herald/metrics bench          full run
 *   pnpm --filter @herald/metrics bench --smoke  a few thousand requests
 */
import { createHerald, defineContract, type HeraldSocket, type Meter } from '@herald/core';
import type { StandardSchemaV1 } from '@standard-schema/spec';
import { prometheusMetrics } from '../src/index.ts';

const smoke = process.argv.includes('--smoke');
const N = smoke ? 5_000 : 300_000;
const ROUNDS = smoke ? 2 : 10;

const any: StandardSchemaV1<unknown, unknown> = { '~standard': { version: 1, vendor: 'bench', validate: (value) => ({ value }) } };
const contract = defineContract({ requests: { 'bench.Echo': { request: any, response: any } }, notifications: {} });

function session(meter: Meter | undefined) {
  const herald = createHerald({ contract, handlers: { 'bench.Echo': (body) => body }, upgradeRateLimit: false, processingBudget: false, limits: { rateLimit: { messagesPerSecond: 1e12, burst: 1e12 } }, ...(meter === undefined ? {} : { meter }) });
  const socket: HeraldSocket = { send: () => {}, close: () => {}, bufferedAmount: 0 };
  const connection = herald.open(socket, { ok: true, protocol: 'herald.v1', client: 'native', principal: { userId: 'u' } });
  let id = 0;
  // The client confirms every answer, as @herald/client does: answers do not pile up in the retry cache.
  return () => {
    for (let i = 0; i < N; i++) connection.receive(`{"kind":"req","resp":${id},"id":"${++id}","type":"bench.Echo","body":{"user":"u-10077","text":"hello there, general kenobi","n":12345}}`);
  };
}

const off = session(undefined);
const metrics = prometheusMetrics();
const on = session(metrics.meter);
const nsPerRequest = { off: [] as number[], on: [] as number[] };
for (let round = 0; round < ROUNDS; round++) {
  for (const [mode, run] of round % 2 === 0 ? ([['off', off], ['on', on]] as const) : ([['on', on], ['off', off]] as const)) {
    const started = performance.now();
    run();
    nsPerRequest[mode].push(((performance.now() - started) * 1e6) / N);
  }
}
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;
const ratios = nsPerRequest.off.map((off, i) => off / (nsPerRequest.on[i] as number));
console.log(`per request: off ${median(nsPerRequest.off).toFixed(0)} ns, on ${median(nsPerRequest.on).toFixed(0)} ns (median of ${ROUNDS} rounds of ${N})`);
console.log(`throughput on/off: ${median(ratios).toFixed(3)}× (per round ${Math.min(...ratios).toFixed(3)}–${Math.max(...ratios).toFixed(3)})`);
const scrape = await metrics.registry.metrics();
console.log(`scrape: ${scrape.length} characters; ${/herald_requests_total\{type="bench.Echo",code="200"\} (\d+)/.exec(scrape)?.[1]} requests counted`);
