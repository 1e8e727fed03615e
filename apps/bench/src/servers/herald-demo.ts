/**
 * The demo application (chat and contact center, its own schemas) on uWebSockets.js, for the
 * hostile-session scenario. `HERALD_BENCH_BUDGET=off` turns the processing budget off, for
 * before/after figures.
 */
import { createDemo } from '@herald/demo/src/app.ts';
import { serveHerald } from '@herald/uws';
import { ready } from './control.ts';

const budgetOff = process.env['HERALD_BENCH_BUDGET'] === 'off';
const herald = createDemo({ upgradeRateLimit: false, ...(budgetOff ? { processingBudget: false } : {}) });
const server = await serveHerald(herald, { port: 0, host: '127.0.0.1', path: '/ws' });
ready(server.port);
