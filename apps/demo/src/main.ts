/** `pnpm demo`: the chat on http://localhost:9090 (PORT to change it). */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createChat } from './app.ts';
import { attachWs } from './ws-transport.ts';

const port = Number(process.env['PORT'] ?? 9090);
const page = readFileSync(new URL('../public/index.html', import.meta.url));
const herald = createChat();
const server = createServer((request, response) => {
  if (request.url === '/' || request.url === '/index.html') {
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(page);
  } else response.writeHead(404).end();
});
attachWs(server, herald);
server.listen(port, () => {
  console.log(`Herald demo on http://localhost:${port}  (WebSocket: ws://localhost:${port}/ws, subprotocol herald.v1)`);
  console.log(`Try it from a terminal too: pnpm --filter @herald/demo client`);
});

const stop = async () => {
  await herald.close();
  server.close();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
