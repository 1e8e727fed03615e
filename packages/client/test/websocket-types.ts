/**
 * Compiled by `pnpm typecheck` (tsconfig.test.json), never run: the WebSocket implementations
 * users pass must fit `WebSocketConstructor` without a cast (the README's example uses `ws`).
 */
import WebSocket from 'ws';
import { createClient, type WebSocketConstructor } from '../src/index.ts';

export const fromWs: WebSocketConstructor = WebSocket;
export const fromDom: WebSocketConstructor = globalThis.WebSocket;
export const readme = () => createClient({ url: 'ws://localhost:9090/ws', WebSocket, token: 'demo-alice' });
