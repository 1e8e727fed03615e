/**
 * The application, written once: the demo chat mounted on Hono with WebSocket on /ws and the
 * long-poll fallback on /lp. Each runtime's entry file only passes its `upgradeWebSocket`.
 */
import { mountHerald, type AnyUpgradeWebSocket } from '@herald/hono';
import { createLongPollHandler } from '@herald/long-poll';
import { createChat } from '@herald/demo/src/app.ts';
import { Hono } from 'hono';

export function createApp(upgradeWebSocket: AnyUpgradeWebSocket) {
  const herald = createChat();
  const longPoll = createLongPollHandler(herald);
  const app = new Hono();
  app.get('/', (c) => c.text('Herald on Hono: WebSocket on /ws (subprotocol herald.v1), long-poll on /lp.\n'));
  mountHerald(app, herald, { upgradeWebSocket, longPoll });
  const close = async () => {
    await herald.close();
    longPoll.close();
  };
  return { app, close };
}

export const port = (env: (name: string) => string | undefined): number => Number(env('PORT') ?? 9091);
