/** The load runner against the uWS adapter: a short pipelined run with a latency histogram. */
import { formatLoadResult, runLoad } from '@herald/testing';
import { createConformanceHerald } from '@herald/testing/conformance';
import { afterAll, expect, it } from 'vitest';
import { serveHerald, type HeraldUwsServer } from '../src/index.ts';

let server: HeraldUwsServer | undefined;
afterAll(() => server?.close());

it('runs a pipelined mix for a second and reports throughput and latency', async () => {
  const herald = createConformanceHerald({ rateLimit: { messagesPerSecond: 100_000, burst: 100_000 } });
  server = await serveHerald(herald, { port: 0, host: '127.0.0.1' });
  const lines: string[] = [];
  const result = await runLoad({
    url: `ws://127.0.0.1:${server.port}/ws`,
    clients: 20,
    pipeline: 4,
    durationMs: 1000,
    token: (i) => `user:load${i}`,
    mix: [{ type: 'conf.Echo', body: { text: 'hello' }, weight: 3 }, { type: 'conf.Nope', body: {} }],
    onProgress: (line) => lines.push(line),
  });
  console.log(formatLoadResult(result));
  expect(result.ok).toBeGreaterThan(1000);
  expect(result.errors['404']).toBeGreaterThan(0);
  expect(result.ok / (result.errors['404'] as number)).toBeCloseTo(3, 0);
  expect(result.latencyMs.p50).toBeGreaterThan(0);
  expect(result.latencyMs.p99).toBeGreaterThanOrEqual(result.latencyMs.p50);
  expect(result.closes).toEqual({});
});
