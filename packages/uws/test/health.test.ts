/**
 * `/healthz` and `/readyz` on the uWS app, and the health listener that answers HTTP/1.0 as
 * haproxy's default check sends it (uWS itself leaves HTTP/1.0 unanswered). Real servers on loopback.
 */
import { MemoryBroker, type DependencyHealth } from '@herald/core';
import { createConformanceHerald } from '@herald/testing/conformance';
import { rawExchange } from '@herald/testing/node';
import { afterEach, expect, it } from 'vitest';
import { serveHerald, type HeraldUwsServer } from '../src/index.ts';

/** A broker whose link the test sets. */
class CheckedBroker extends MemoryBroker {
  status: DependencyHealth['status'] = 'ok';
  health(): DependencyHealth {
    return { status: this.status };
  }
}

const servers: HeraldUwsServer[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await server.close();
});

async function serve(broker = new CheckedBroker()) {
  const herald = createConformanceHerald({}, { broker });
  const server = await serveHerald(herald, { port: 0, host: '127.0.0.1', drainMs: 0, healthListener: { port: 0 } });
  servers.push(server);
  return { herald, broker, server, origin: `http://127.0.0.1:${server.port}`, healthPort: server.healthPort as number };
}

/** Ends once the answer to a request without keep-alive is complete (Node closes it). */
const ended = { timeoutMs: 10_000 };

it('answers /healthz and /readyz on the app, GET and HEAD', async () => {
  const { origin } = await serve();
  const live = await fetch(`${origin}/healthz`);
  expect(live.status).toBe(200);
  expect(live.headers.get('cache-control')).toBe('no-store');
  expect(await live.json()).toEqual({ status: 'ok' });
  const ready = await fetch(`${origin}/readyz`);
  expect(ready.status).toBe(200);
  expect(await ready.json()).toEqual({ status: 'ok', ready: true, draining: false, broker: { status: 'ok' } });
  const head = await fetch(`${origin}/readyz`, { method: 'HEAD' });
  expect(head.status).toBe(200);
  expect(head.headers.get('content-length')).toBe(String(JSON.stringify({ status: 'ok', ready: true, draining: false, broker: { status: 'ok' } }).length));
  expect(await head.text()).toBe('');
});

it('is not ready while its broker is down, and ready again when it is back; degraded is still ready', async () => {
  const { origin, broker } = await serve();
  broker.status = 'down';
  const down = await fetch(`${origin}/readyz`);
  expect(down.status).toBe(503);
  expect(await down.json()).toMatchObject({ status: 'unavailable', ready: false, broker: { status: 'down' } });
  expect((await fetch(`${origin}/healthz`)).status).toBe(200);
  broker.status = 'degraded';
  expect((await fetch(`${origin}/readyz`)).status).toBe(200);
});

it('is not ready once it drains', async () => {
  const { origin, herald } = await serve();
  await herald.close();
  const draining = await fetch(`${origin}/readyz`);
  expect(draining.status).toBe(503);
  expect(await draining.json()).toMatchObject({ ready: false, draining: true });
});

it('the health listener answers HTTP/1.0 (haproxy default check: OPTIONS / HTTP/1.0) where uWS answers nothing', async () => {
  const { server, healthPort, broker } = await serve();
  const check = 'OPTIONS / HTTP/1.0\r\n\r\n';
  const answered = await rawExchange(healthPort, check, ended);
  expect(answered.text).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
  expect(answered.text).toContain('"ready":true');
  const live = await rawExchange(healthPort, 'GET /healthz HTTP/1.0\r\n\r\n', ended);
  expect(live.text).toMatch(/\r\n\r\n\{"status":"ok"\}$/);
  broker.status = 'down';
  expect((await rawExchange(healthPort, check, ended)).text).toMatch(/^HTTP\/1\.1 503 Service Unavailable\r\n/);
  // The same request to uWS: no answer; the documented reason for the listener.
  const unanswered = await rawExchange(server.port, check, { until: (received) => received.length > 0, timeoutMs: 1000 }).catch(() => undefined);
  expect(unanswered?.text ?? '').toBe('');
});

it('the health listener closes with the server', async () => {
  const { server, healthPort } = await serve();
  servers.splice(servers.indexOf(server), 1);
  await server.close();
  await expect(fetch(`http://127.0.0.1:${healthPort}/readyz`)).rejects.toThrow();
});
