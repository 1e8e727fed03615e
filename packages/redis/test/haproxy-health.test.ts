/**
 * haproxy's own default health check (`option httpchk`: `OPTIONS / HTTP/1.0`), which uWS leaves
 * unanswered, works against the uWS adapter's health listener: a node that drains is taken
 * out, and traffic goes to the others. Real haproxy and real uWS servers on loopback.
 */
import { eventually } from '@herald/testing';
import { createConformanceHerald } from '@herald/testing/conformance';
import { loadUws, serveHerald, type HeraldUwsServer } from '@herald/uws';
import { afterEach, expect, it } from 'vitest';
import { startHaproxy, type Haproxy } from '../src/testing/index.ts';

const stops: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
});

async function node(name: string) {
  const herald = createConformanceHerald();
  const app = loadUws().App();
  app.get('/who', (res) => void res.end(name));
  const server: HeraldUwsServer = await serveHerald(herald, { app, port: 0, host: '127.0.0.1', drainMs: 0, healthListener: { port: 0 } });
  stops.push(() => server.close());
  return { herald, server, backend: { port: server.port, healthPort: server.healthPort as number } };
}

it('takes a draining node out, by the default check on its health listener', async () => {
  const one = await node('one');
  const two = await node('two');
  const proxy: Haproxy = await startHaproxy([one.backend, two.backend]);
  stops.push(() => proxy.stop());
  const who = async (): Promise<string> => (await fetch(`http://127.0.0.1:${proxy.port}/who`)).text();
  // Both up by haproxy's default check: round-robin reaches both.
  await eventually(async () => {
    const seen = new Set([await who(), await who(), await who(), await who()]);
    expect([...seen].sort()).toEqual(['one', 'two']);
  }, 30_000, 100);
  await one.herald.close();
  // Draining: its health listener answers 503, and haproxy sends everything to the other.
  await eventually(async () => {
    const seen = [await who(), await who(), await who(), await who(), await who(), await who()];
    expect(seen).toEqual(['two', 'two', 'two', 'two', 'two', 'two']);
  }, 30_000, 100);
}, 60_000);
