/**
 * A refused upgrade in a real browser (Debian's Chromium, driven by playwright-core): the page's
 * JavaScript sees the backend's refusal as the close code 4429 with its reason, and the Goodbye
 * before it, which an HTTP 429 would never have shown it.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { serveGateway, type Gateway } from '../src/index.ts';
import { launchChromium, type Chromium } from './chromium.ts';
import { startRefusingServer, type RefusingServer } from './refusing-server.ts';

let refusing: RefusingServer;
let gateway: Gateway;
let page: Server;
let browser: Chromium;

beforeAll(async () => {
  refusing = await startRefusingServer();
  gateway = await serveGateway({ backends: [refusing.url], port: 0, host: '127.0.0.1', logger: { info() {}, warn() {}, error() {} } });
  page = createServer((_request, response) => response.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>gateway</title>'));
  await new Promise<void>((resolve) => page.listen(0, '127.0.0.1', resolve));
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await gateway?.close();
  await refusing?.close();
  await new Promise((resolve) => page?.close(resolve));
});

it('a browser sees a backend refusal as close 4429 with the reason, after a Goodbye', async () => {
  const tab = await browser.context.newPage();
  await tab.goto(`http://127.0.0.1:${(page.address() as AddressInfo).port}/`);
  const seen = await tab.evaluate(
    (url) =>
      new Promise<{ code: number; reason: string; messages: string[] }>((resolve) => {
        const messages: string[] = [];
        const socket = new WebSocket(url, 'herald.v1');
        socket.onmessage = (event) => messages.push(String(event.data));
        socket.onclose = (event) => resolve({ code: event.code, reason: event.reason, messages });
      }),
    `ws://127.0.0.1:${gateway.port}/ws`,
  );
  expect(seen.code).toBe(4429);
  expect(seen.reason).toBe('refused with 429 by the backend');
  expect(seen.messages.map((text) => JSON.parse(text))).toEqual([
    { kind: 'notification', type: 'herald.Goodbye', body: { code: 4429, reason: 'refused with 429 by the backend', retryAfterMs: 2000, error: 'refused_here' } },
  ]);
  await tab.close();
}, 60_000);
