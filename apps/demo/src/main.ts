/** `pnpm demo`: the chat on uWebSockets.js at http://localhost:9090 (PORT to change it). */
import { readFileSync } from 'node:fs';
import { loadUws, serveHerald } from '@herald/uws';
import { createChat } from './app.ts';

const port = Number(process.env['PORT'] ?? 9090);
const page = readFileSync(new URL('../public/index.html', import.meta.url));
const app = loadUws().App();
app.get('/', (res) => {
  res.cork(() => res.writeHeader('content-type', 'text/html; charset=utf-8').end(page));
});
app.any('/*', (res) => {
  res.cork(() => res.writeStatus('404 Not Found').end());
});

const herald = createChat();
const server = await serveHerald(herald, { app, port });
console.log(`Herald demo on http://localhost:${server.port}  (WebSocket: ws://localhost:${server.port}/ws, subprotocol herald.v1)`);
console.log('Try it from a terminal too: pnpm --filter @herald/demo client');

const stop = async () => {
  await server.close();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
