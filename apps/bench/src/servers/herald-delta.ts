/** Herald on uWebSockets.js serving scenario 15's delta topic (`createDeltaHerald`, the fossil format). */
import { fossilDelta } from '@herald/core/fossil-delta';
import { serveHerald } from '@herald/uws';
import { createDeltaHerald } from '../shared.ts';
import { ready } from './control.ts';

const herald = createDeltaHerald(fossilDelta());
const server = await serveHerald(herald, { port: 0, host: '127.0.0.1', path: '/ws' });
ready(server.port);
