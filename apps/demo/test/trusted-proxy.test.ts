/**
 * Issue 16 item 8: behind nginx every client arrives from nginx's address, so the per-address
 * upgrade limit was site-wide (one client's 150 upgrades got 20 of 20 others 429). With
 * `trustProxy` naming nginx, the server keys on the `X-Forwarded-For` hop nginx adds: clients
 * (from distinct loopback addresses, 127.0.0.2 onwards) each get their own bucket, a client
 * cannot pick another with a header of its own, and the log names the client, not nginx.
 */
import { request } from 'node:http';
import type { LogFields, Logger } from '@herald/core';
import { createLongPollHandler } from '@herald/long-poll';
import { attachHttp, loadUws, serveHerald } from '@herald/uws';
import { afterEach, expect, it } from 'vitest';
import { createChat } from '../src/app.ts';
import { startNginx, type Nginx } from '@herald/testing/node';

const BURST = 5;
const OTHERS = 20;

interface Proxied {
  readonly nginx: Nginx;
  readonly logged: LogFields[];
  close(): Promise<void>;
}

const running: Proxied[] = [];
afterEach(async () => {
  for (const proxied of running.splice(0)) await proxied.close();
});

async function behindNginx(trustProxy: readonly string[] | undefined): Promise<Proxied> {
  const logged: LogFields[] = [];
  const logger: Logger = { info: (fields) => void logged.push(fields), warn: () => {}, error: () => {} };
  const herald = createChat({ upgradeRateLimit: { perSecond: 0.01, burst: BURST }, logger, ...(trustProxy === undefined ? {} : { trustProxy }) });
  const app = loadUws().App();
  const longPoll = createLongPollHandler(herald);
  attachHttp(app, '/lp', longPoll.handle);
  const server = await serveHerald(herald, { app, port: 0, host: '127.0.0.1' });
  const nginx = await startNginx(server.port, 'upgrade', { forwardedFor: true });
  const proxied = {
    nginx,
    logged,
    close: async () => {
      await nginx.stop();
      await server.close();
      await longPoll.close();
    },
  };
  running.push(proxied);
  return proxied;
}

/** The status nginx answers a native WebSocket upgrade from `localAddress` with (101 when upgraded). */
function upgradeStatus(port: number, localAddress: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const upgrade = request({
      host: '127.0.0.1',
      port,
      path: '/ws',
      localAddress,
      headers: {
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-version': '13',
        'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
        'sec-websocket-protocol': 'herald.v1',
        ...headers,
      },
    });
    upgrade.on('upgrade', (_response, socket) => {
      socket.destroy();
      resolve(101);
    });
    upgrade.on('response', (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    upgrade.on('error', reject);
    upgrade.end();
  });
}

/** The status of a long-poll open from `localAddress`. */
function longPollStatus(port: number, localAddress: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const open = request({ host: '127.0.0.1', port, path: '/lp', method: 'POST', localAddress, headers: { 'herald-protocol': 'herald.v1', 'content-length': '0' } });
    open.on('response', (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    open.on('error', reject);
    open.end();
  });
}

async function statuses(port: number, localAddress: string, count: number, headers?: Record<string, string>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < count; i++) out.push(await upgradeStatus(port, localAddress, headers));
  return out;
}

const other = (i: number) => `127.0.0.${3 + i}`;

it('one client past its upgrade limit does not get the others refused, nor choose its address', { timeout: 120_000 }, async () => {
  const { nginx, logged } = await behindNginx(['127.0.0.1']);
  const flood = await statuses(nginx.port, '127.0.0.2', 150);
  expect(flood.filter((s) => s === 101)).toHaveLength(BURST);
  expect(flood.filter((s) => s === 429)).toHaveLength(150 - BURST);

  // Its own X-Forwarded-For is ignored: nginx appends the address it saw, and that one counts.
  expect(await statuses(nginx.port, '127.0.0.2', 3, { 'x-forwarded-for': '198.51.100.77' })).toEqual([429, 429, 429]);
  expect(await longPollStatus(nginx.port, '127.0.0.2')).toBe(429);

  const others: number[] = [];
  for (let i = 0; i < OTHERS; i++) others.push(await upgradeStatus(nginx.port, other(i)));
  expect(others).toEqual(new Array(OTHERS).fill(101));
  expect(await longPollStatus(nginx.port, other(OTHERS))).toBe(200);

  const refused = logged.filter((fields) => fields.event === 'upgrade_refused');
  expect(refused.length).toBe(150 - BURST + 3 + 1);
  expect(new Set(refused.map((fields) => fields['address']))).toEqual(new Set(['127.0.0.2']));
});

it('without trustProxy every client behind nginx shares nginx’s limit (the reported fault)', { timeout: 120_000 }, async () => {
  const { nginx, logged } = await behindNginx(undefined);
  await statuses(nginx.port, '127.0.0.2', BURST + 1);
  const others: number[] = [];
  for (let i = 0; i < 3; i++) others.push(await upgradeStatus(nginx.port, other(i)));
  expect(others).toEqual([429, 429, 429]);
  expect(logged.find((fields) => fields.event === 'upgrade_refused')?.['address']).toBe('127.0.0.1');
});
