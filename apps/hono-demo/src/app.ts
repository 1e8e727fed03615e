/**
 * The application, written once: the demo chat mounted on Hono with WebSocket on /ws, the
 * long-poll fallback on /lp and Prometheus metrics on /metrics. Each runtime's entry file only
 * passes its `upgradeWebSocket`.
 */
import { mountHerald, type AnyUpgradeWebSocket } from '@herald/hono';
import { createLongPollHandler } from '@herald/long-poll';
import { metricsHandler, prometheusMetrics } from '@herald/metrics';
import { createChat } from '@herald/demo/src/app.ts';
import { Hono } from 'hono';

export function createApp(upgradeWebSocket: AnyUpgradeWebSocket) {
  const metrics = prometheusMetrics();
  const herald = createChat({ meter: metrics.meter });
  const scrape = metricsHandler(metrics.registry);
  const longPoll = createLongPollHandler(herald);
  const app = new Hono();
  app.get('/', (c) => c.text('Herald on Hono: WebSocket on /ws (subprotocol herald.v1), long-poll on /lp, Prometheus metrics on /metrics.\n'));
  app.get('/metrics', (c) => scrape(c.req.raw));
  mountHerald(app, herald, { upgradeWebSocket, longPoll });
  const close = async () => {
    await herald.close();
    longPoll.close();
  };
  return { app, close };
}

export const port = (env: (name: string) => string | undefined): number => Number(env('PORT') ?? 9091);
