/** `serveHerald`'s close drains: it keeps listening while answers are in flight, at most `drainMs`, refusing new sessions with 503. */
import type { HttpExchange } from '@herald/core';
import { eventually } from '@herald/testing';
import { createConformanceHerald } from '@herald/testing/conformance';
import { expect, it } from 'vitest';
import WebSocket from 'ws';
import { attachHttp, loadUws, serveHerald, type HeraldUwsServer } from '../src/index.ts';

/** A server with an HTTP route that answers when the test says so. */
async function serve(drainMs: number): Promise<{ server: HeraldUwsServer; origin: string; held: () => number; release: () => void }> {
  const app = loadUws().App();
  const waiting: HttpExchange[] = [];
  attachHttp(app, '/slow', (exchange) => void waiting.push(exchange));
  const server = await serveHerald(createConformanceHerald(), { app, port: 0, host: '127.0.0.1', drainMs });
  const release = () => {
    for (const exchange of waiting.splice(0)) exchange.respond(200, { 'content-type': 'text/plain' }, 'late answer');
  };
  return { server, origin: `http://127.0.0.1:${server.port}`, held: () => waiting.length, release };
}

/** The status a native WebSocket upgrade is answered with (101: it opened), or the error. */
function upgrade(origin: string): Promise<number | string> {
  return new Promise((resolve) => {
    const socket = new WebSocket(`${origin.replace('http', 'ws')}/ws`, 'herald.v1', { headers: { authorization: 'Bearer user:ann' } });
    socket.once('unexpected-response', (_request, response) => {
      resolve(response.statusCode ?? 0);
      socket.terminate();
    });
    socket.once('open', () => {
      resolve(101);
      socket.terminate();
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
}

it('stops listening at once when nothing is in flight', async () => {
  const { server, origin } = await serve(30_000);
  const started = Date.now();
  await server.close();
  expect(Date.now() - started).toBeLessThan(10_000);
  expect(await upgrade(origin)).toBe('ECONNREFUSED');
});

it('keeps listening until an answer in flight is written, refusing upgrades with 503 meanwhile', async () => {
  const { server, origin, held, release } = await serve(30_000);
  const slow = fetch(`${origin}/slow`);
  await eventually(() => expect(held()).toBe(1));
  let closed = false;
  const closing = server.close().then(() => (closed = true));
  expect(await upgrade(origin)).toBe(503);
  expect(closed).toBe(false);
  release();
  const answer = await slow;
  expect(answer.status).toBe(200);
  expect(await answer.text()).toBe('late answer');
  await closing;
  expect(await upgrade(origin)).toBe('ECONNREFUSED');
});

it('stops listening after drainMs when an answer never comes', async () => {
  const { server, origin, held } = await serve(500);
  const abandoned = new AbortController();
  const slow = fetch(`${origin}/slow`, { signal: abandoned.signal }).catch(() => 'abandoned');
  await eventually(() => expect(held()).toBe(1));
  const started = Date.now();
  await server.close();
  expect(Date.now() - started).toBeGreaterThanOrEqual(450);
  expect(await upgrade(origin)).toBe('ECONNREFUSED');
  abandoned.abort();
  expect(await slow).toBe('abandoned');
});
