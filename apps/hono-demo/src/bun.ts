/** `pnpm start:bun` — Hono on Bun; topics use Bun's native publish. */
import { upgradeWebSocket, websocket } from 'hono/bun';
import { createApp, port } from './app.ts';

declare const Bun: { serve(options: Record<string, unknown>): { port: number }; env: Record<string, string | undefined> };

const { app } = createApp(upgradeWebSocket, (name) => Bun.env[name]);
const server = Bun.serve({ fetch: app.fetch, websocket, port: port((name) => Bun.env[name]) });
console.log(`Herald on Hono (Bun) on http://localhost:${server.port}`);
