/**
 * A small chat with the inspector mounted, on uWS (`attachHttp`) or on Hono (`@hono/node-server`
 * with `ws`): the same herald and inspector options, served the way each adapter serves them.
 */
import { createClient, type HeraldClient } from '@herald/client';
import { createHerald, defineContract, type Broker, type Herald, type SessionStore } from '@herald/core';
import { mountHerald } from '@herald/hono';
import { attachHttp, loadUws, serveHerald } from '@herald/uws';
import { Hono } from 'hono';
import WebSocket from 'ws';
import { z } from 'zod';
import { createInspector, type InspectorHandler, type InspectorOptions } from '../src/index.ts';

export const TOKEN = 'a-long-inspector-token-for-tests';

export const chat = defineContract({
  requests: {
    'chat.Send': { request: z.object({ room: z.string(), text: z.string() }), response: z.object({ offset: z.number() }) },
  },
  notifications: { 'chat.Message': { body: z.object({ room: z.string(), text: z.string(), from: z.string() }) } },
});

export type Adapter = 'uws' | 'hono';

export interface InspectedServer {
  readonly port: number;
  readonly herald: Herald<typeof chat>;
  readonly inspector: InspectorHandler;
  close(): Promise<void>;
}

export interface ServeOptions {
  readonly inspector?: Partial<InspectorOptions>;
  readonly broker?: Broker;
  readonly sessionStore?: SessionStore;
}

function chatHerald(options: ServeOptions): Herald<typeof chat> {
  return createHerald({
    contract: chat,
    authenticate: (token) => (token.startsWith('user:') ? { userId: token.slice(5) } : null),
    canSubscribe: (topic) => topic.startsWith('room/'),
    upgradeRateLimit: false,
    ...(options.broker === undefined ? {} : { broker: options.broker }),
    ...(options.sessionStore === undefined ? {} : { sessionStore: options.sessionStore }),
    handlers: {
      'chat.Send': async ({ room, text }, ctx) => ({ offset: (await ctx.herald.publish(`room/${room}`, 'chat.Message', { room, text, from: ctx.userId })).offset }),
    },
  });
}

export async function serveInspected(adapter: Adapter, options: ServeOptions = {}): Promise<InspectedServer> {
  const herald = chatHerald(options);
  const inspector = createInspector(herald, { token: TOKEN, ...options.inspector });
  if (adapter === 'uws') {
    const app = loadUws().App();
    attachHttp(app, inspector.path, inspector.handle);
    attachHttp(app, `${inspector.path}/*`, inspector.handle);
    const server = await serveHerald(herald, { app, port: 0, host: '127.0.0.1', drainMs: 0 });
    return {
      port: server.port,
      herald,
      inspector,
      close: async () => {
        await inspector.close();
        await server.close();
      },
    };
  }
  const { serve, upgradeWebSocket } = await import('@hono/node-server');
  const { WebSocketServer } = await import('ws');
  const app = new Hono();
  mountHerald(app, herald, { upgradeWebSocket });
  app.all(inspector.path, (c) => inspector.fetch(c.req.raw));
  app.all(`${inspector.path}/*`, (c) => inspector.fetch(c.req.raw));
  const wss = new WebSocketServer({ noServer: true });
  const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const started = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1', websocket: { server: wss as never } }, () => resolve(started));
  });
  return {
    port: (server.address() as { port: number }).port,
    herald,
    inspector,
    close: async () => {
      await inspector.close();
      await herald.close();
      for (const client of wss.clients) client.terminate();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** A real client of the chat (`@herald/client` over `ws`), signed in as `user`. */
export function chatClient(port: number, user: string): HeraldClient<typeof chat> {
  return createClient<typeof chat>({ url: `ws://127.0.0.1:${port}/ws`, WebSocket: WebSocket as never, token: `user:${user}` });
}
