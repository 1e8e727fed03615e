/**
 * Herald on uWS as scenario 10's node, direct and behind `@herald/gateway` alike: it trusts the
 * gateway on 127.0.0.1 (so a relayed session counts toward its client's address, as in a
 * deployment), and lifts the per-address cap, as the generator opens thousands of sessions
 * from one address.
 */
import { serveHerald } from '@herald/uws';
import { createBenchHerald } from '../shared.ts';
import { ready } from './control.ts';

const server = await serveHerald(createBenchHerald({ trustProxy: ['127.0.0.1'] }), { port: 0, host: '127.0.0.1', path: '/ws' });
ready(server.port);
