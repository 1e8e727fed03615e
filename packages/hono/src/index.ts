export { heraldWebSocket, mountHerald, type AnyUpgradeWebSocket, type FetchMount } from './adapter.ts';
export { HonoSocket } from './hono-socket.ts';
