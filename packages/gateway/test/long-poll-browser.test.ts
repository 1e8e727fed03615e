/**
 * `@herald/client` in a real browser (Debian's Chromium) behind a real nginx that does not pass
 * WebSocket upgrades on, as a broken corporate proxy: the page's upgrade reaches the gateway
 * without `Upgrade` and fails, the client falls back to the gateway's long-poll (`/lp`, a
 * WebSocket leg to a node for it) and works: requests, a topic, private notifications. Behind
 * the gateway two nodes share sessions and topics through Redis; the node the session is relayed
 * to is shut down gracefully, then the other one is killed (SIGKILL), each started again. The
 * page keeps its one long-poll connection and session, every request is answered, and every
 * notification arrives once and in order. The control: the same page behind nginx that passes
 * upgrades on uses WebSocket.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Herald } from '@herald/core';
import { RedisBroker, RedisSessionStore } from '@herald/redis';
import { startRedis, type RedisServer } from '@herald/redis/testing';
import { eventually } from '@herald/testing';
import { startNginx, type Nginx } from '@herald/testing/node';
import { build } from 'esbuild';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { serveGateway, type Gateway } from '../src/index.ts';
import { createBackendHerald, type TestContract } from './backend-app.ts';
import { launchChromium, type Chromium } from './chromium.ts';
import type { HeraldPage, Observed } from './long-poll-page.ts';
import { startBackend, START_BOUND_MS, type BackendProcess } from './processes.ts';
import { tally } from './tally.ts';

/** Generous: every wait ends as soon as its condition holds; this only bounds a hang on a loaded machine. */
const WAIT_MS = 30_000;
const TICK_MS = 25;
const PRIVATE_MS = 100;

let redis: RedisServer;
const ports: (number | undefined)[] = [];
const backends: (BackendProcess | undefined)[] = [];
let origins: string;
let gateway: Gateway;
let pages: Server;
let blocking: Nginx;
let passing: Nginx;
let browser: Chromium;
let publisher: Herald<TestContract>;

/** Starts node `i`, again on its port after the first time. */
async function start(i: number): Promise<void> {
  backends[i] = await startBackend({ REDIS_URL: redis.url, NODE: `node-${i}`, ORIGINS: origins }, ports[i]);
  ports[i] = (backends[i] as BackendProcess).port;
}

/** The page and `@herald/client`, bundled together by esbuild for the browser, as an application ships them. */
async function bundlePage(): Promise<string> {
  const result = await build({
    entryPoints: [fileURLToPath(new URL('./long-poll-page.ts', import.meta.url))],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    conditions: ['@herald/source'],
    target: 'es2022',
    write: false,
  });
  const [output] = result.outputFiles;
  if (output === undefined) throw new Error('esbuild produced no bundle of the page');
  return output.text;
}

beforeAll(async () => {
  redis = await startRedis();
  // The nodes start last, once the proxies' origins (the pages' origins) are known: the gateway reads their list every health round.
  gateway = await serveGateway({
    backends: () => ports.filter((port) => port !== undefined).map((port) => `ws://127.0.0.1:${port}/ws`),
    port: 0,
    host: '127.0.0.1',
    healthIntervalMs: 200,
    relinkTimeoutMs: 20_000,
    logger: { info() {}, warn: (fields, message) => console.log(message, fields), error: (fields, message) => console.log(message, fields) },
  });
  const script = await bundlePage();
  pages = createServer((request, response) => {
    if (request.url === '/page.js') return void response.writeHead(200, { 'content-type': 'text/javascript' }).end(script);
    response.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>herald long-poll</title><script type="module" src="/page.js"></script>');
  });
  await new Promise<void>((resolve) => pages.listen(0, '127.0.0.1', resolve));
  const pagesPort = (pages.address() as AddressInfo).port;
  [blocking, passing] = await Promise.all([startNginx(gateway.port, 'no-upgrade', { pages: pagesPort }), startNginx(gateway.port, 'upgrade', { pages: pagesPort })]);
  origins = [blocking, passing].map((proxy) => `http://127.0.0.1:${proxy.port}`).join(',');
  await Promise.all([start(0), start(1)]);
  await eventually(() => expect(gateway.backends.map((backend) => backend.healthy)).toEqual([true, true]), WAIT_MS, 50);
  const publisherStore = new RedisSessionStore({ redis: redis.url });
  await publisherStore.ready;
  publisher = createBackendHerald({ node: 'publisher', broker: new RedisBroker({ redis: redis.url }), sessionStore: publisherStore });
  browser = await launchChromium();
}, 3 * START_BOUND_MS);

afterAll(async () => {
  await browser?.close();
  await publisher?.close();
  await Promise.all([blocking?.stop(), passing?.stop()]);
  await new Promise((resolve) => (pages === undefined ? resolve(undefined) : pages.close(resolve)));
  await gateway?.close();
  await Promise.all(backends.map((backend) => backend?.kill()));
  await redis?.stop();
});

/** Calls the page's `heraldPage[method](...args)` in the browser. */
function call<K extends keyof HeraldPage>(tab: Page, method: K, ...args: Parameters<HeraldPage[K]>): Promise<Awaited<ReturnType<HeraldPage[K]>>> {
  return tab.evaluate(
    ([name, values]) => (globalThis as unknown as { heraldPage: Record<string, (...values: unknown[]) => unknown> }).heraldPage[name]?.(...values),
    [method, args] as const,
  ) as Promise<Awaited<ReturnType<HeraldPage[K]>>>;
}

const observed = (tab: Page): Promise<Observed> => call(tab, 'observed');

/** A tab on the page as `proxy` serves it; the page's errors are printed. */
async function open(proxy: Nginx): Promise<Page> {
  const tab = await browser.context.newPage();
  tab.on('pageerror', (error) => console.log('page error', error));
  await tab.goto(`http://127.0.0.1:${proxy.port}/`);
  await tab.waitForFunction(() => 'heraldPage' in globalThis, undefined, { timeout: WAIT_MS });
  return tab;
}

it('the control: behind nginx that passes upgrades on, the page uses WebSocket', async () => {
  const tab = await open(passing);
  await call(tab, 'connect', 'user:ws-browser');
  await call(tab, 'join', 'ws');
  await publisher.publish('room/ws', 'test.Tick', { n: 1 });
  await eventually(async () => expect((await observed(tab)).ticks).toEqual([1]), WAIT_MS, 50);
  const seen = await observed(tab);
  expect(seen.transports).toEqual(['websocket']);
  expect(seen.state).toBe('open');
  await call(tab, 'close');
  await tab.close();
}, 2 * WAIT_MS);

it('behind nginx that does not pass upgrades on, the page falls back to the gateway\'s long-poll and keeps its session, every request and every notification while its node is shut down and then killed', async () => {
  const tab = await open(blocking);
  await call(tab, 'connect', 'user:lp-browser');
  const joinedAt = await call(tab, 'join', 'lp');
  const opened = await observed(tab);
  // The WebSocket failed at the proxy; the client went on over long-poll.
  expect(opened.transports).toEqual(['websocket', 'long-poll']);
  expect(opened.state).toBe('open');
  const sessionId = opened.sessionId;
  expect(sessionId).toBeDefined();

  let ticks = 0;
  let privates = 0;
  let publishing = true;
  const tickLoop = (async () => {
    while (publishing) {
      await publisher.publish('room/lp', 'test.Tick', { n: ++ticks });
      await new Promise((resolve) => setTimeout(resolve, TICK_MS));
    }
  })();
  const privateLoop = (async () => {
    while (publishing) {
      await publisher.sendToUser('lp-browser', 'test.Private', { n: ++privates });
      await new Promise((resolve) => setTimeout(resolve, PRIVATE_MS));
    }
  })();
  await call(tab, 'startEchoes');
  /** Until the page has more of everything than now: notifications and answers flow. */
  const flowing = async (): Promise<void> => {
    const now = await observed(tab);
    const [tickCount, privateCount, echoCount] = [now.ticks.length, now.privates.length, now.echoes.ok];
    await eventually(
      async () => {
        const later = await observed(tab);
        expect(later.ticks.length).toBeGreaterThan(tickCount + 5);
        expect(later.privates.length).toBeGreaterThan(privateCount + 2);
        expect(later.echoes.ok).toBeGreaterThan(echoCount + 5);
      },
      WAIT_MS,
      100,
    );
  };
  const indexOf = (node: string): number => Number(node.slice('node-'.length));
  await flowing();

  // A rolling deploy: the node the session is on shuts down gracefully (Goodbye 4503) and comes back.
  const first = await call(tab, 'where');
  const graceful = backends[indexOf(first)] as BackendProcess;
  const relinks = gateway.stats.relinks;
  const exited = new Promise((resolve) => graceful.process.once('exit', resolve));
  graceful.process.kill('SIGTERM');
  await exited;
  await eventually(() => expect(gateway.stats.relinks).toBe(relinks + 1), WAIT_MS, 50);
  const second = await call(tab, 'where');
  expect(second).not.toBe(first);
  await flowing();
  await start(indexOf(first));
  await eventually(() => expect(gateway.backends.every((backend) => backend.healthy)).toBe(true), WAIT_MS, 50);

  // The node it moved to dies.
  await (backends[indexOf(second)] as BackendProcess).kill();
  await eventually(() => expect(gateway.stats.relinks).toBe(relinks + 2), WAIT_MS, 50);
  expect(await call(tab, 'where')).toBe(first);
  await flowing();
  await start(indexOf(second));

  publishing = false;
  await Promise.all([tickLoop, privateLoop]);
  await call(tab, 'stopEchoes');
  await eventually(
    async () => {
      const now = await observed(tab);
      expect(now.ticks.at(-1)).toBe(ticks);
      expect(now.privates.at(-1)).toBe(privates);
    },
    WAIT_MS,
    50,
  );

  const seen = await observed(tab);
  const topic = tally(seen.ticks, seen.ticks[0] ?? 1, ticks);
  const own = tally(seen.privates, 1, privates);
  console.log(
    `long-poll in Chromium behind nginx without upgrades: ${seen.ticks.length} of ${ticks} topic and ${privates} private notifications, ` +
      `${seen.echoes.ok} echoes (${seen.echoes.outcomeUnknown} outcome_unknown); relinks ${gateway.stats.relinks - relinks}, longest ${gateway.stats.maxRelinkMs} ms; ` +
      `topic ${JSON.stringify(topic)}, private ${JSON.stringify(own)}`,
  );
  expect({ topic, own }).toEqual({ topic: { lost: 0, duplicated: 0, reordered: 0 }, own: { lost: 0, duplicated: 0, reordered: 0 } });
  // The first tick is the one after the offset the join answered.
  expect(seen.ticks[0]).toBeLessThanOrEqual(joinedAt + 1);
  // One connection, one session: the gateway hid both restarts.
  expect(seen.transports).toEqual(['websocket', 'long-poll']);
  // Nothing after the open (before it: `reconnecting` once the WebSocket had failed).
  expect(opened.states.at(-1)).toBe('open');
  expect(seen.states).toEqual(opened.states);
  expect(seen.sessionId).toBe(sessionId);
  expect(seen.recoveryFailures).toEqual([]);
  expect(seen.errors).toEqual([]);
  // Every echo answered once: with its text, or 409 `outcome_unknown` for one running on the killed node.
  expect(seen.echoes.failed).toEqual([]);
  expect(seen.echoes.outcomeUnknown).toBeLessThanOrEqual(1);
  expect(gateway.stats.relinkFailures).toBe(0);
  await call(tab, 'close');
  await tab.close();
}, 6 * WAIT_MS);
