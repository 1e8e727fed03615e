// npm start: the WebSocket endpoint on ws://localhost:9090/ws (PORT=… to change it).
import { serveHerald } from '@herald/uws';
import { createApp } from './app.ts';

const server = await serveHerald(createApp(), { port: Number(process.env.PORT ?? 9090) });
console.log(`listening on ws://localhost:${server.port}/ws`);
process.once('SIGINT', () => void server.close());
process.once('SIGTERM', () => void server.close());
