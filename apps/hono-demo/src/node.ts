/** `pnpm start:node` — Hono on Node with @hono/node-server v2 and `ws`. */
import { serve, upgradeWebSocket } from '@hono/node-server';
import { WebSocketServer } from 'ws';
import { createApp, port } from './app.ts';

const { app, close } = createApp(upgradeWebSocket, (name) => process.env[name]);
const server = serve({ fetch: app.fetch, port: port((name) => process.env[name]), websocket: { server: new WebSocketServer({ noServer: true }) as never } }, (info) =>
  console.log(`Herald on Hono (Node) on http://localhost:${info.port}`),
);
process.on('SIGTERM', () => void close().then(() => server.close()));
process.on('SIGINT', () => void close().then(() => process.exit(0)));
