/**
 * On Node (`@hono/node-server`) the adapter hands the core the peer's address, so the upgrade
 * and long-poll open limits apply per client, and behind a trusted proxy per forwarded address.
 */
import type { AddressInfo } from 'node:net';
import { createHerald, defineContract, type LogFields } from '@herald/core';
import { createLongPollHandler } from '@herald/long-poll';
import { serve, upgradeWebSocket } from '@hono/node-server';
import { Hono } from 'hono';
import { afterEach, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { mountHerald } from '../src/index.ts';

const contract = defineContract({ requests: {}, notifications: {} });
const stops: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const stop of stops.splice(0)) await stop();
});

async function start(trustProxy?: readonly string[]): Promise<{ port: number; logged: LogFields[] }> {
  const logged: LogFields[] = [];
  const herald = createHerald({
    contract,
    handlers: {},
    upgradeRateLimit: { perSecond: 0.01, burst: 1 },
    logger: { info: (fields) => void logged.push(fields), warn: () => {}, error: () => {} },
    ...(trustProxy === undefined ? {} : { trustProxy }),
  });
  const longPoll = createLongPollHandler(herald);
  const app = new Hono();
  mountHerald(app, herald, { upgradeWebSocket, longPoll });
  const wss = new WebSocketServer({ noServer: true });
  const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const started = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1', websocket: { server: wss as never } }, () => resolve(started));
  });
  stops.push(async () => {
    await herald.close();
    await longPoll.close();
    await new Promise((resolve) => server.close(resolve));
  });
  return { port: (server.address() as AddressInfo).port, logged };
}

function upgradeStatus(port: number, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`ws://127.0.0.1:${port}/ws`, ['herald.v1'], { headers });
    socket.on('open', () => {
      socket.terminate();
      resolve(101);
    });
    socket.on('unexpected-response', (_request, response) => {
      resolve(response.statusCode ?? 0);
      socket.terminate();
    });
    socket.on('error', reject);
  });
}

async function openStatus(port: number, headers: Record<string, string> = {}): Promise<number> {
  const response = await fetch(`http://127.0.0.1:${port}/lp`, { method: 'POST', headers: { 'herald-protocol': 'herald.v1', ...headers } });
  await response.body?.cancel();
  return response.status;
}

it('limits upgrades and long-poll opens per peer address', { timeout: 30_000 }, async () => {
  const { port, logged } = await start();
  expect(await upgradeStatus(port)).toBe(101);
  // A header from an untrusted peer changes nothing.
  expect(await upgradeStatus(port, { 'x-forwarded-for': '198.51.100.9' })).toBe(429);
  expect(await openStatus(port)).toBe(429);
  expect(logged.filter((fields) => fields.event === 'upgrade_refused').map((fields) => fields['address'])).toEqual(['127.0.0.1', '127.0.0.1']);
});

it('behind a trusted proxy, per forwarded address', { timeout: 30_000 }, async () => {
  const { port, logged } = await start(['127.0.0.1']);
  expect(await upgradeStatus(port, { 'x-forwarded-for': '198.51.100.1' })).toBe(101);
  expect(await upgradeStatus(port, { 'x-forwarded-for': '198.51.100.1' })).toBe(429);
  expect(await upgradeStatus(port, { 'x-forwarded-for': '198.51.100.2' })).toBe(101);
  expect(await openStatus(port, { 'x-forwarded-for': '198.51.100.3' })).toBe(200);
  expect(await openStatus(port, { 'x-forwarded-for': '198.51.100.3' })).toBe(429);
  expect(logged.filter((fields) => fields.event === 'upgrade_refused').map((fields) => fields['address'])).toEqual(['198.51.100.1', '198.51.100.3']);
});
