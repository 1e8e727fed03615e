// npm run client (with the server running): join a room, send a message, receive it back.
import { createClient } from '@herald/client';
import WebSocket from 'ws'; // not needed in browsers, Bun, Deno or Node 22+
import type { contract } from './contract.ts';

const client = createClient<typeof contract>({ url: process.env.URL ?? 'ws://localhost:9090/ws', WebSocket, token: 'user:alice' });
client.on('chat.Message', (message, meta) => {
  console.log(`#${meta.offset} ${message.from}: ${message.text}`);
  client.close();
});
await client.request('chat.Join', { room: 'lobby' });
await client.request('chat.Send', { room: 'lobby', text: 'hello' });
