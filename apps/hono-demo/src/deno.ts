/** `pnpm start:deno` — Hono on Deno. */
import { upgradeWebSocket } from 'hono/deno';
import { createApp, port } from './app.ts';

declare const Deno: { serve(options: Record<string, unknown>, handler: (request: Request) => Response | Promise<Response>): unknown; env: { get(name: string): string | undefined } };

const { app } = createApp(upgradeWebSocket, (name) => Deno.env.get(name));
Deno.serve({ port: port((name) => Deno.env.get(name)), onListen: ({ port }: { port: number }) => console.log(`Herald on Hono (Deno) on http://localhost:${port}`) }, app.fetch);
