/** Herald on uWebSockets.js (`serveHerald`, native build only: `loadUws` refuses the JS fallback). */
import { serveHerald } from '@herald/uws';
import { createBenchHerald } from '../shared.ts';
import { ready } from './control.ts';

const server = await serveHerald(createBenchHerald(), { port: 0, host: '127.0.0.1', path: '/ws' });
ready(server.port);
