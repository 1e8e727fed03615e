/**
 * Herald on uWebSockets.js (`serveHerald`, native build only: `loadUws` refuses the JS fallback).
 * With the argument `msgpack` it also offers `herald.v1.msgpack` (scenario 14); with
 * `keepalive`, Herald's default keep-alive instead of the bench's quiet one (scenario 16).
 */
import { msgpack } from '@herald/core/msgpack';
import { serveHerald } from '@herald/uws';
import { createBenchHerald } from '../shared.ts';
import { ready } from './control.ts';

const herald = createBenchHerald({ ...(process.argv.includes('msgpack') ? { codecs: [msgpack()] } : {}), defaultKeepAlive: process.argv.includes('keepalive') });
const server = await serveHerald(herald, { port: 0, host: '127.0.0.1', path: '/ws' });
ready(server.port);
