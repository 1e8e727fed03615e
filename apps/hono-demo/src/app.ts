/**
 * The application, written once: the demo chat mounted on Hono with WebSocket on /ws, the
 * long-poll fallback on /lp, Prometheus metrics on /metrics, /healthz and /readyz, and with
 * INSPECTOR_TOKEN the inspector on /inspector (read-only unless INSPECTOR_ACTIONS=1). Each
 * runtime's entry file only passes its `upgradeWebSocket` and how it reads its environment.
 */
import { mountHerald, type AnyUpgradeWebSocket } from '@herald/hono';
import { createInspector } from '@herald/inspector';
import { createLongPollHandler } from '@herald/long-poll';
import { metricsHandler, prometheusMetrics } from '@herald/metrics';
import { createChat } from '@herald/demo/src/app.ts';
import { Hono } from 'hono';

/** Reads a variable of the runtime's environment. */
export type Env = (name: string) => string | undefined;

export function createApp(upgradeWebSocket: AnyUpgradeWebSocket, env: Env = () => undefined) {
  const metrics = prometheusMetrics();
  const herald = createChat({ meter: metrics.meter });
  const scrape = metricsHandler(metrics.registry);
  const longPoll = createLongPollHandler(herald);
  const app = new Hono();
  app.get('/', (c) => c.text('Herald on Hono: WebSocket on /ws (subprotocol herald.v1), long-poll on /lp, Prometheus metrics on /metrics.\n'));
  app.get('/metrics', (c) => scrape(c.req.raw));
  mountHerald(app, herald, { upgradeWebSocket, longPoll });
  const token = env('INSPECTOR_TOKEN');
  const inspector = token === undefined ? undefined : createInspector(herald, { token, actions: env('INSPECTOR_ACTIONS') === '1' });
  if (inspector !== undefined) {
    app.all(inspector.path, (c) => inspector.fetch(c.req.raw));
    app.all(`${inspector.path}/*`, (c) => inspector.fetch(c.req.raw));
  }
  const close = async () => {
    await inspector?.close();
    await herald.close();
    longPoll.close();
  };
  return { app, close };
}

export const port = (env: Env): number => Number(env('PORT') ?? 9091);
