/**
 * Serves the conformance application through @herald/hono on whichever runtime runs this file:
 * Node (`@hono/node-server` v2 with `ws`), Bun (`hono/bun`) or Deno (`hono/deno`). WebSocket on
 * /ws and long-poll on /lp, on one port. The runtime glue is the few lines per branch below.
 */
import { createLongPollHandler } from '@herald/long-poll';
import { createConformanceHerald } from '@herald/testing/conformance';
import { Hono } from 'hono';
import { mountHerald } from '../src/index.ts';

export interface Served {
  readonly port: number;
  stop(): Promise<void>;
}

declare const Bun: { serve(options: Record<string, unknown>): { port: number; stop(force?: boolean): void } } | undefined;
declare const Deno: { serve(options: Record<string, unknown>, handler: (request: Request) => Response | Promise<Response>): { shutdown(): Promise<void> } } | undefined;

export async function serveConformance(): Promise<Served> {
  const herald = createConformanceHerald();
  const longPoll = createLongPollHandler(herald, { pollTimeoutMs: 2000, idleTimeoutMs: 3000 });
  const app = new Hono();
  // Graceful: every client is told (Goodbye + 4503, held polls answered), then a moment for
  // those last frames and responses to leave before the listener goes.
  const shutdown = async () => {
    await herald.close();
    longPoll.close();
    await new Promise((resolve) => setTimeout(resolve, 300));
  };
  if (typeof Bun !== 'undefined') {
    const { upgradeWebSocket, websocket } = await import('hono/bun');
    mountHerald(app, herald, { upgradeWebSocket, longPoll });
    const server = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: app.fetch, websocket });
    return { port: server.port, stop: async () => (await shutdown(), server.stop(true)) };
  }
  if (typeof Deno !== 'undefined') {
    const { upgradeWebSocket } = await import('hono/deno');
    mountHerald(app, herald, { upgradeWebSocket, longPoll });
    let port = 0;
    const listening = new Promise<void>((resolve) => {
      const server = Deno.serve({ port: 0, hostname: '127.0.0.1', onListen: (address: { port: number }) => ((port = address.port), resolve()) }, app.fetch);
      stopDeno = () => server.shutdown();
    });
    let stopDeno = async () => {};
    await listening;
    return { port, stop: async () => (await shutdown(), await stopDeno()) };
  }
  const { serve, upgradeWebSocket } = await import('@hono/node-server');
  const { WebSocketServer } = await import('ws');
  mountHerald(app, herald, { upgradeWebSocket, longPoll });
  const wss = new WebSocketServer({ noServer: true });
  const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const started = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1', websocket: { server: wss as never } }, () => resolve(started));
  });
  return {
    port: (server.address() as { port: number }).port,
    stop: async () => {
      await shutdown();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
