/**
 * The demo server on one port: the application over WebSocket on /ws and long-poll on /lp, the
 * API docs on /docs and /asyncapi.json, the pages (the playground on /, the contact center on
 * /contact-center) and the browser build of `@herald/client` they import. Given a Redis URL it
 * is one node of a cluster: topics, sessions and long-poll connections live in Redis.
 * /healthz and /readyz answer probes and load balancers (readiness follows Redis and the drain),
 * /metrics Prometheus (the `herald_` families of `@herald/metrics`). Given an inspector token,
 * /inspector shows the live sessions and topics (`@herald/inspector`), of every node in a cluster.
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { createDocsHandler, type DocsHandler } from '@herald/asyncapi';
import type { Herald, HeraldOptions } from '@herald/core';
import { createInspector, type InspectorHandler } from '@herald/inspector';
import { createLongPollHandler } from '@herald/long-poll';
import { RedisBroker, RedisInspectionRelay, RedisLongPollStore, RedisSessionStore } from '@herald/redis';
import { metricsHandler, prometheusMetrics } from '@herald/metrics';
import { attachFetch, attachHttp, loadUws, serveHerald } from '@herald/uws';
import type { HttpResponse, TemplatedApp } from 'uWebSockets.js';
import { createDemo } from './app.ts';
import { buildBrowserClient } from './browser-client.ts';
import { demo } from './contract.ts';

export interface DemoOptions {
  /** Default 9090; 0 picks a free port. */
  readonly port?: number;
  /** Default `0.0.0.0`. */
  readonly host?: string;
  /** Passed to the Herald server (limits, rate limits). */
  readonly herald?: Partial<HeraldOptions<typeof demo>>;
  /** Run as one node of a cluster on this Redis (`redis://127.0.0.1:6379`). */
  readonly redisUrl?: string;
  /** Also answer health checks on this port, over HTTP/1.0 too (haproxy's default check); 0 picks a free one. */
  readonly healthPort?: number;
  /** The `node` label of the metrics on /metrics, and the node's name on /inspector (default: none; there, host and pid). */
  readonly node?: string;
  /** Serve /inspector behind this bearer token (at least 16 characters); without it there is no inspector. */
  readonly inspectorToken?: string;
  /** Let the inspector disconnect sessions and unsubscribe them from topics (default false: read-only). */
  readonly inspectorActions?: boolean;
}

export interface DemoServer {
  /** The port actually bound. */
  readonly port: number;
  /** Tells every client to reconnect elsewhere, then stops listening. */
  close(): Promise<void>;
}

interface Asset {
  readonly type: string;
  readonly body: string | Buffer;
}

/** Pages load scripts, styles and data from this server only, and connect back to it. */
const PAGE_CONTENT_SECURITY_POLICY = "default-src 'self'; connect-src 'self' ws: wss:; base-uri 'none'; frame-ancestors 'none'";

const file = (name: string, type: string): Asset => ({ type, body: readFileSync(new URL(`../public/${name}`, import.meta.url)) });

function serve(res: HttpResponse, asset: Asset): void {
  res.cork(() => {
    res
      .writeHeader('content-type', asset.type)
      .writeHeader('cache-control', 'no-cache')
      .writeHeader('x-content-type-options', 'nosniff')
      .writeHeader('content-security-policy', PAGE_CONTENT_SECURITY_POLICY)
      .end(asset.body);
  });
}

/**
 * Starts the demo and resolves once it listens.
 *
 * @example
 * const demo = await startDemo({ port: 0, host: '127.0.0.1' });
 * await page.goto(`http://127.0.0.1:${demo.port}/contact-center?role=agent&name=a1&skills=45`);
 * await demo.close();
 */
export async function startDemo(options: DemoOptions = {}): Promise<DemoServer> {
  const html = 'text/html; charset=utf-8';
  const script = 'text/javascript; charset=utf-8';
  const assets: Record<string, Asset> = {
    '/': file('index.html', html),
    '/playground.js': file('playground.js', script),
    '/contact-center': file('contact-center.html', html),
    '/contact-center.js': file('contact-center.js', script),
    '/demo.css': file('demo.css', 'text/css; charset=utf-8'),
    '/herald-client.js': { type: script, body: await buildBrowserClient() },
  };

  const app = loadUws().App();
  const cluster = options.redisUrl === undefined ? undefined : await joinCluster(options.redisUrl);
  const metrics = prometheusMetrics(options.node === undefined ? {} : { node: options.node });
  const herald = createDemo({
    meter: metrics.meter,
    ...options.herald,
    ...(cluster === undefined ? {} : { broker: cluster.broker, sessionStore: cluster.sessionStore }),
  });
  const longPoll = createLongPollHandler(herald, cluster === undefined ? {} : { store: cluster.longPollStore });
  attachHttp(app, '/lp', longPoll.handle);
  attachHttp(app, '/lp/*', longPoll.handle);

  // The documents name the WebSocket URL, which includes the port bound below.
  let docs: DocsHandler | undefined;
  const serveDocs = async (request: Request) => (await docs?.(request)) ?? new Response('not found', { status: 404 });
  attachFetch(app, '/docs', serveDocs);
  attachFetch(app, '/asyncapi.json', serveDocs);
  attachFetch(app, '/metrics', metricsHandler(metrics.registry));
  const inspector = options.inspectorToken === undefined ? undefined : mountInspector(app, herald, options, options.redisUrl);

  for (const [path, asset] of Object.entries(assets)) app.get(path, (res) => serve(res, asset));
  app.any('/*', (res) => {
    res.cork(() => res.writeStatus('404 Not Found').end());
  });

  const server = await serveHerald(herald, {
    app,
    port: options.port ?? 9090,
    ...(options.host === undefined ? {} : { host: options.host }),
    ...(options.healthPort === undefined ? {} : { healthListener: { port: options.healthPort } }),
  });
  docs = createDocsHandler(demo, {
    title: 'Herald demo',
    version: '1.0.0',
    description:
      'Chat rooms with private whispers, and a contact center where consumers open conversations for a skill and agents accept rings, over herald.v1. ' +
      'Demo tokens are `demo-<name>`, and `demo-agent-<name>-<skill>[.<skill>…]` for an agent of those skills (see the demo README for who may do what).',
    url: `ws://localhost:${server.port}/ws`,
  });
  return {
    port: server.port,
    async close() {
      await server.close();
      await inspector?.close();
      await longPoll.close();
      await cluster?.close();
    },
  };
}

/** /inspector, reporting to the other nodes through Redis in a cluster. */
function mountInspector(app: TemplatedApp, herald: Herald<typeof demo>, options: DemoOptions, redisUrl: string | undefined): InspectorHandler {
  const node = options.node ?? `${hostname()}-${process.pid}`;
  const inspector = createInspector(herald, {
    token: options.inspectorToken ?? '',
    actions: options.inspectorActions === true,
    node,
    ...(redisUrl === undefined ? {} : { relay: new RedisInspectionRelay({ redis: redisUrl, nodeId: node }) }),
  });
  attachHttp(app, inspector.path, inspector.handle);
  attachHttp(app, `${inspector.path}/*`, inspector.handle);
  return inspector;
}

/** The Redis side of a cluster node. */
async function joinCluster(redisUrl: string) {
  const sessionStore = new RedisSessionStore({ redis: redisUrl });
  const longPollStore = new RedisLongPollStore({ redis: redisUrl, sessionStore });
  const broker = new RedisBroker({ redis: redisUrl });
  await Promise.all([sessionStore.ready, longPollStore.ready]);
  return {
    broker,
    sessionStore,
    longPollStore,
    async close(): Promise<void> {
      await Promise.all([longPollStore.disconnect(), sessionStore.close(), broker.close()]);
    },
  };
}
