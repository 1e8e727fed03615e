/**
 * `pnpm demo`: the chat on uWebSockets.js at http://localhost:9090 (PORT to change it):
 * WebSocket on /ws, the long-poll fallback on /lp, the API docs on /docs and /asyncapi.json.
 */
import { readFileSync } from 'node:fs';
import { createDocsHandler } from '@herald/asyncapi';
import { createLongPollHandler } from '@herald/long-poll';
import { attachFetch, loadUws, serveHerald } from '@herald/uws';
import { createChat } from './app.ts';
import { chat } from './contract.ts';

const port = Number(process.env['PORT'] ?? 9090);
const page = readFileSync(new URL('../public/index.html', import.meta.url));
const app = loadUws().App();
const herald = createChat();

const longPoll = createLongPollHandler(herald);
attachFetch(app, '/lp', longPoll.fetch);
attachFetch(app, '/lp/*', longPoll.fetch);

const docs = createDocsHandler(chat, {
  title: 'Herald demo chat',
  version: '1.0.0',
  description: 'Rooms and private whispers over herald.v1. Demo tokens are `demo-<name>`.',
  url: `ws://localhost:${port}/ws`,
});
const serveDocs = async (request: Request) => (await docs(request)) ?? new Response('not found', { status: 404 });
attachFetch(app, '/docs', serveDocs);
attachFetch(app, '/asyncapi.json', serveDocs);

app.get('/', (res) => {
  res.cork(() => res.writeHeader('content-type', 'text/html; charset=utf-8').end(page));
});
app.any('/*', (res) => {
  res.cork(() => res.writeStatus('404 Not Found').end());
});

const server = await serveHerald(herald, { app, port });
console.log(`Herald demo on http://localhost:${server.port}  (WebSocket /ws, long-poll /lp, docs /docs, AsyncAPI /asyncapi.json)`);
console.log('Try it from a terminal too: pnpm --filter @herald/demo client');

const stop = async () => {
  await server.close();
  longPoll.close();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
