/**
 * Herald on uWebSockets.js with Prometheus metrics on (scenario 9): the same server as
 * `herald-uws.ts`, a prom-client meter, and a scrape of `/metrics` every 5 s (Prometheus
 * scrapes every 15 s by default), so the figure includes what exposition costs too.
 */
import { metricsHandler, prometheusMetrics } from '@herald/metrics';
import { attachFetch, loadUws, serveHerald } from '@herald/uws';
import { createBenchHerald } from '../shared.ts';
import { ready } from './control.ts';

const metrics = prometheusMetrics({ node: 'bench' });
const app = loadUws().App();
attachFetch(app, '/metrics', metricsHandler(metrics.registry));
const server = await serveHerald(createBenchHerald({ meter: metrics.meter }), { app, port: 0, host: '127.0.0.1', path: '/ws' });
setInterval(() => void fetch(`http://127.0.0.1:${server.port}/metrics`).then((response) => response.text()), 5000).unref();
ready(server.port);
