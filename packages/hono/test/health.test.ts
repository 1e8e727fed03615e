/** `mountHerald` answers `/healthz` and `/readyz` from `herald.health()`, GET and HEAD, unless told not to. */
import { createHerald, defineContract, MemoryBroker, type DependencyHealth } from '@herald/core';
import { upgradeWebSocket } from '@hono/node-server';
import { Hono } from 'hono';
import { expect, it } from 'vitest';
import { mountHerald } from '../src/index.ts';

const contract = defineContract({ requests: {}, notifications: {} });

class CheckedBroker extends MemoryBroker {
  status: DependencyHealth['status'] = 'ok';
  health(): DependencyHealth {
    return { status: this.status };
  }
}

function mounted(health?: boolean) {
  const broker = new CheckedBroker();
  const herald = createHerald({ contract, handlers: {}, broker });
  const app = new Hono();
  mountHerald(app, herald, { upgradeWebSocket, ...(health === undefined ? {} : { health }) });
  return { app, herald, broker };
}

it('answers liveness and readiness, and readiness follows the broker and the drain', async () => {
  const { app, herald, broker } = mounted();
  const live = await app.request('/healthz');
  expect(live.status).toBe(200);
  expect(await live.json()).toEqual({ status: 'ok' });
  const ready = await app.request('/readyz');
  expect(ready.status).toBe(200);
  expect(ready.headers.get('cache-control')).toBe('no-store');
  expect(await ready.json()).toEqual({ status: 'ok', ready: true, draining: false, broker: { status: 'ok' } });
  const head = await app.request('/readyz', { method: 'HEAD' });
  expect(head.status).toBe(200);
  expect(await head.text()).toBe('');
  broker.status = 'down';
  expect((await app.request('/readyz')).status).toBe(503);
  broker.status = 'ok';
  await herald.close();
  const draining = await app.request('/readyz');
  expect(draining.status).toBe(503);
  expect(await draining.json()).toMatchObject({ ready: false, draining: true });
});

it('mounts nothing with health: false', async () => {
  const { app, herald } = mounted(false);
  expect((await app.request('/readyz')).status).toBe(404);
  await herald.close();
});
