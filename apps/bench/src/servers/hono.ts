/**
 * Herald on Hono, one file for the three runtimes: `node --import tsx`, `bun` or `deno run`
 * start it, and it picks the runtime's `upgradeWebSocket`. Prints `READY <port>`.
 */
import { mountHerald } from '@herald/hono';
import { Hono } from 'hono';
import { createBenchHerald } from '../shared.ts';

declare const Bun: { serve(options: Record<string, unknown>): { port: number } } | undefined;
declare const Deno:
  | { serve(options: Record<string, unknown>, handler: (request: Request) => Response | Promise<Response>): unknown }
  | undefined;

const herald = createBenchHerald();
const app = new Hono();
const say = (line: string) => console.log(line);

if (typeof Bun !== 'undefined') {
  const { upgradeWebSocket, websocket } = await import('hono/bun');
  mountHerald(app, herald, { upgradeWebSocket });
  const server = Bun.serve({ fetch: app.fetch, websocket, port: 0, hostname: '127.0.0.1' });
  say(`READY ${server.port}`);
} else if (typeof Deno !== 'undefined') {
  const { upgradeWebSocket } = await import('hono/deno');
  mountHerald(app, herald, { upgradeWebSocket });
  Deno.serve({ port: 0, hostname: '127.0.0.1', onListen: ({ port }: { port: number }) => say(`READY ${port}`) }, app.fetch);
} else {
  const { serve, upgradeWebSocket } = await import('@hono/node-server');
  const { WebSocketServer } = await import('ws');
  mountHerald(app, herald, { upgradeWebSocket });
  serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1', websocket: { server: new WebSocketServer({ noServer: true }) as never } }, (info) =>
    say(`READY ${info.port}`),
  );
  // Exit normally on SIGTERM, so that a CPU profile (--cpu-prof) is written.
  process.on('SIGTERM', () => process.exit(0));
}
