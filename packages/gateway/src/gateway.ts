/**
 * The gateway: uWS takes client upgrades, dials a backend with `ws` for each, and relays the
 * two legs of every link; keep-alive on both legs, refusals passed through, drain on close.
 */
import { STATUS_CODES } from 'node:http';
import { CloseCode, consoleLogger, ErrorReason, handshakeRefusal, offeredProtocols, PROTOCOL_NAME, type Logger, type UpgradeRejected } from '@herald/core';
import { answerPlainHttp, attachHttp, loadUws, type UwsModule } from '@herald/uws';
import type { HttpRequest, HttpResponse, TemplatedApp, us_listen_socket, us_socket_context_t, WebSocket as UwsWebSocket, WebSocketBehavior } from 'uWebSockets.js';
import { BackendPool, type Backend, type BackendSource, type Strategy } from './backends.ts';
import { dialBackend, type Dialed } from './dial.ts';
import { Interned } from './interned.ts';
import { goodbyeMessage, Link, type ClientData } from './link.ts';
import { msgpackFrames } from './msgpack-frames.ts';
import { longPollEdge, type GatewayLongPollOptions, type OpenDialed } from './long-poll-edge.ts';
import type { LinkHost } from './link-host.ts';
import { emptyStats, type GatewayStats } from './stats.ts';

/** What a routing function sees of an upgrade. */
export interface GatewayRequest {
  /** Path and query. */
  readonly url: string;
  /** The path alone. */
  readonly path: string;
  /** Header values by lower-case name. */
  readonly headers: { get(name: string): string | undefined };
  /** The subprotocols the client offered (`Sec-WebSocket-Protocol`), in its order. */
  readonly protocols: readonly string[];
  readonly remoteAddress: string;
}

/** A named group of backends (`GatewayOptions.pools`), with its own strategy. */
export interface BackendGroup {
  readonly backends: BackendSource;
  /** Default: the gateway's `strategy`. */
  readonly strategy?: Strategy;
}

/** The pool `backends` forms, to name in `paths` and return from `route`. */
export const DEFAULT_POOL = 'default';

/** Options of `serveGateway`. */
export interface GatewayOptions {
  /**
   * The backend nodes: a list of WebSocket URLs (or `{url, healthUrl}`), or a function read at
   * every health round. They form the pool named `default`; optional when `pools` has others.
   */
  readonly backends?: BackendSource;
  /**
   * More pools of backends by name, each health-checked and balanced on its own: `paths` or
   * `route` sends a client to one. A session moved off a lost node stays in its pool.
   */
  readonly pools?: Readonly<Record<string, BackendGroup>>;
  /** Default `round-robin`. */
  readonly strategy?: Strategy;
  /** The key `consistent-hash` routes by (default: the `Authorization` header, else the client's address). */
  readonly routeKey?: (request: GatewayRequest) => string | undefined;
  /** The WebSocket route clients use (default `/ws`), for the `default` pool; `paths` replaces it. */
  readonly path?: string;
  /** Routing by path: the WebSocket routes clients use, each with the pool it goes to (uWS patterns such as `/chat/*` allowed). */
  readonly paths?: Readonly<Record<string, string>>;
  /**
   * Routing by anything else in the upgrade (a header, the subprotocol, the principal a token
   * names): the pool's name, or undefined for the path's pool. An unknown name is answered
   * `503` `no_backend`.
   */
  readonly route?: (request: GatewayRequest) => string | undefined;
  /** Default 9090; 0 picks a free port. */
  readonly port?: number;
  /** Default `0.0.0.0`. */
  readonly host?: string;
  /**
   * Keep-alive on each leg: a leg silent for `intervalMs` gets an RFC ping, and one that still
   * says nothing `graceMs` later is taken as half-open, cut, and its partner closed (default
   * 25 000 and 10 000, as a Herald server's `pingIntervalMs` and `pingTimeoutMs`).
   */
  readonly keepAlive?: { readonly intervalMs?: number; readonly graceMs?: number };
  /** How often backends' `/readyz` is asked (default 2000 ms), and how long an answer may take (default 1000 ms). */
  readonly healthIntervalMs?: number;
  readonly healthTimeoutMs?: number;
  /** How long a backend's handshake may take (default 5000 ms). */
  readonly dialTimeoutMs?: number;
  /**
   * Bytes buffered for a client past which the gateway stops reading from its backend until the
   * client drains (default 1 MiB); past `maxBackpressure` (default 4 × that) the client is closed
   * with 4507, as a Herald server closes a slow consumer, and resumes. The other way, the same
   * mark buffered toward a backend makes the gateway hold the client's next frames until the
   * backend leg drains; a client that sends `maxBackpressure` meanwhile is closed with 4429, and a
   * backend leg that does not drain within `keepAlive.graceMs` is taken as lost (the session moves).
   */
  readonly highWaterMark?: number;
  readonly maxBackpressure?: number;
  /** Largest client frame relayed (default 128 KiB: twice a Herald server's default `maxMessageBytes`). */
  readonly maxFrameBytes?: number;
  /**
   * Resume a session on another backend when its backend leg ends with Goodbye 4503 or dies
   * (default true; the backends must share a session store, e.g. `@herald/redis`).
   */
  readonly relink?: boolean;
  /** The longest a relink may take before the client is closed with 4502 instead (default 10 000 ms). */
  readonly relinkTimeoutMs?: number;
  /** The longest `close()` waits for clients to be told (default 1000 ms). */
  readonly drainMs?: number;
  /** How a client is classified (default: a request with `Origin` is a browser, as `@herald/core` does). */
  readonly classifyClient?: (request: GatewayRequest) => 'browser' | 'native';
  /** Where the gateway logs (pino's shape; default: warnings and errors on the console). */
  readonly logger?: Logger;
  /**
   * Long-poll at the edge (default on, at `/lp`): clients that cannot use WebSocket poll the
   * gateway, which holds a WebSocket leg to a backend for each, so backends need not serve
   * long-poll. `false` turns it off.
   */
  readonly longPoll?: GatewayLongPollOptions | false;
}

/** A running gateway. */
export interface Gateway {
  readonly port: number;
  readonly app: TemplatedApp;
  /** Live counters. */
  readonly stats: Readonly<GatewayStats>;
  /** The backends with their health and link counts. */
  readonly backends: readonly Backend[];
  /** Bytes held for clients now, over all links (walks every link: for tests and metrics, not the hot path). */
  readonly bufferedBytes: number;
  /** Bytes on their way to backends now: held by the links, and in the backend legs' sockets (walks every link). */
  readonly bufferedTowardBackends: number;
  /**
   * Graceful shutdown: new upgrades get 503, every client gets `herald.Goodbye` 4503 and a
   * close with 4503 (its backend session is detached, so the client resumes through another
   * gateway), then the listen socket closes.
   */
  close(): Promise<void>;
}

/** Where a client's session goes (`routeOf`). */
interface Route {
  readonly pool: BackendPool;
  readonly routeKey: string | undefined;
  readonly forwarded: Readonly<Record<string, string>>;
}

/** uWS refuses a longer `idleTimeout` by aborting the process. */
const MAX_IDLE_TIMEOUT_S = 960;
const IDLE_MARGIN_S = 8;
/** Headers a backend leg carries from its client's upgrade. */
const FORWARDED = ['authorization', 'origin', 'cookie', 'user-agent', 'host'] as const;
/** Forwarded headers most clients send alike, kept once (`Interned`); credentials are each client's own. */
const SHARED_HEADERS: ReadonlySet<string> = new Set(['origin', 'user-agent', 'host']);
const PASSED_HEADERS = ['retry-after', 'allow', 'sec-websocket-version'] as const;
const textDecoder = new TextDecoder();

function statusLine(status: number): string {
  return `${status} ${STATUS_CODES[status] ?? 'Error'}`;
}

function refuseOverHttp(res: HttpResponse, status: number, headers: Readonly<Record<string, string>>, body: string): void {
  res.writeStatus(statusLine(status));
  for (const [name, value] of Object.entries(headers)) res.writeHeader(name, value);
  res.writeHeader('content-type', 'application/json');
  res.end(body, true);
}

/**
 * Starts a gateway in front of Herald nodes and resolves once it listens and has checked its backends once.
 *
 * @example
 * const gateway = await serveGateway({
 *   backends: ['ws://10.0.0.5:9090/ws', 'ws://10.0.0.6:9090/ws'],
 *   strategy: 'least-connections',
 *   port: 8080,
 * });
 * process.on('SIGTERM', () => gateway.close());
 */
export async function serveGateway(options: GatewayOptions, uws: UwsModule = loadUws()): Promise<Gateway> {
  const logger = options.logger ?? consoleLogger;
  const stats = emptyStats();
  const links = new Set<Link>();
  const intervalMs = options.keepAlive?.intervalMs ?? 25_000;
  const graceMs = options.keepAlive?.graceMs ?? 10_000;
  const highWaterMark = options.highWaterMark ?? 1024 * 1024;
  const maxBackpressure = options.maxBackpressure ?? highWaterMark * 4;
  const dialTimeoutMs = options.dialTimeoutMs ?? 5000;
  const maxFrameBytes = options.maxFrameBytes ?? 128 * 1024;
  const paths = options.paths ?? { [options.path ?? '/ws']: DEFAULT_POOL };
  let closing = false;
  // herald.v1.msgpack is relayed when the gateway can read and write it (msgpackr installed).
  const binaryCodec = await import('@herald/core/msgpack').then(
    ({ msgpack }) => msgpack(),
    () => undefined,
  );
  const binaryFrames = binaryCodec === undefined ? undefined : msgpackFrames(binaryCodec);
  // Values sessions share, held once: the subprotocol lists offered, and forwarded headers most clients send alike.
  const offers = new Interned<readonly string[]>(256);
  const headerValues = new Interned<string>(1024);
  // Other encodings of herald.v1 are not offered to the node: their frames would be relayed as text.
  // The list is interned, of the exact size (one built by pushes reserves 17 slots): every link of one offer, and its legs, hold it and its strings.
  const relayable = (offered: readonly string[]): readonly string[] => {
    const list = offered.filter((name) => !name.startsWith(`${PROTOCOL_NAME}.`) || name === binaryCodec?.protocol);
    return offers.of(list.join(', '), list.slice());
  };

  const groups: Record<string, BackendGroup> = { ...options.pools };
  if (options.backends !== undefined) groups[DEFAULT_POOL] = { backends: options.backends };
  const pools = new Map<string, BackendPool>();
  for (const [name, group] of Object.entries(groups)) {
    pools.set(
      name,
      new BackendPool(group.backends, {
        strategy: group.strategy ?? options.strategy ?? 'round-robin',
        healthIntervalMs: options.healthIntervalMs ?? 2000,
        healthTimeoutMs: options.healthTimeoutMs ?? 1000,
        onChange: (backend, healthy) => logger.info({ event: healthy ? 'backend_up' : 'backend_down', backend: backend.url, pool: name }, `gateway: backend ${healthy ? 'up' : 'down'}`),
      }),
    );
  }
  if (pools.size === 0) throw new Error('@herald/gateway: give `backends` or `pools`');
  for (const [route, name] of Object.entries(paths)) {
    if (!pools.has(name)) throw new Error(`@herald/gateway: path ${route} names the pool ${name}, which is not in \`pools\``);
  }

  /** Dials healthy backends of `pool` in strategy order until one answers; a refusal is an answer. */
  async function dial(pool: BackendPool, key: string | undefined, headers: Readonly<Record<string, string>>, protocols: readonly string[], lost?: Backend): Promise<Dialed | undefined> {
    for (let attempt = 0; attempt <= pool.all.length; attempt++) {
      const target = pool.pick(key, lost);
      if (target === undefined) return undefined;
      const dialed = await dialBackend(target, headers, protocols, { timeoutMs: dialTimeoutMs, maxPayload: maxBackpressure });
      if (dialed.kind !== 'failed') return dialed;
      logger.warn({ event: 'backend_dial_failed', backend: target.url, error: dialed.error }, 'gateway: could not reach a backend');
      pool.failed(target);
    }
    return undefined;
  }

  const host: LinkHost = {
    stats,
    logger,
    highWaterMark,
    closeAbove: maxBackpressure - 1024,
    relink: options.relink !== false,
    relinkTimeoutMs: options.relinkTimeoutMs ?? 10_000,
    async dial(link, lost) {
      const deadline = Date.now() + host.relinkTimeoutMs;
      for (;;) {
        const dialed = await dial(link.pool, link.routeKey, link.headers, link.protocols, lost);
        if (dialed?.kind === 'open') return dialed;
        // 503: a node draining or starting (one tried in panic mode, see `pick`); another may take the session.
        if (dialed?.kind === 'refused' && dialed.status !== 503) throw new Error(`the new backend refused the upgrade with ${dialed.status}`);
        if (Date.now() > deadline || link.state !== 'relinking') throw new Error('no backend to relink to');
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    },
    ended(link) {
      links.delete(link);
      stats.linksOpen--;
    },
    relinked(link, ms) {
      stats.relinks++;
      stats.lastRelinkMs = ms;
      stats.maxRelinkMs = Math.max(stats.maxRelinkMs, ms);
      logger.info({ event: 'relinked', backend: link.target.url, ms }, 'gateway: session resumed on another backend');
    },
  };

  /** Where a client's session goes: its pool, the key it is balanced by, and the headers its backend legs carry. */
  function routeOf(request: GatewayRequest, poolOfPath: string): Route | undefined {
    const forwarded: Record<string, string> = {};
    for (const name of FORWARDED) {
      const value = request.headers.get(name);
      if (value !== undefined) forwarded[name] = SHARED_HEADERS.has(name) ? headerValues.of(value, value) : value;
    }
    const previous = request.headers.get('x-forwarded-for');
    const chain = previous === undefined ? request.remoteAddress : `${previous}, ${request.remoteAddress}`;
    forwarded['x-forwarded-for'] = headerValues.of(chain, chain);
    const routeKey = options.routeKey !== undefined ? options.routeKey(request) : (request.headers.get('authorization') ?? request.remoteAddress);
    const poolName = options.route?.(request) ?? poolOfPath;
    const pool = pools.get(poolName);
    if (pool === undefined) {
      logger.error({ event: 'unknown_pool', pool: poolName, path: request.path }, 'gateway: the route names no pool');
      return undefined;
    }
    return { pool, routeKey, forwarded };
  }

  function openLink(dialed: OpenDialed, route: Route, protocols: readonly string[]): Link {
    const format = dialed.backend.protocol === binaryCodec?.protocol ? binaryFrames : undefined;
    const link = new Link(host, dialed.backend, dialed.target, route.pool, route.forwarded, protocols, route.routeKey, dialed.takeEarly, format);
    links.add(link);
    stats.linksOpen++;
    stats.linksOpened++;
    return link;
  }

  /** True while a dialed client's `res.cork(() => res.upgrade(…))` runs (uWS calls `open` inside it). */
  let upgrading = false;
  const app = uws.App();
  const idleTimeout = Math.min(MAX_IDLE_TIMEOUT_S, Math.ceil((intervalMs + graceMs) / 1000) + IDLE_MARGIN_S);
  const behavior = (poolOfPath: string): WebSocketBehavior<ClientData> => ({
    compression: uws.DISABLED,
    maxPayloadLength: maxFrameBytes,
    maxBackpressure,
    closeOnBackpressureLimit: 1,
    // The sweep below drives keep-alive; uWS's idle timeout is only a backstop above it.
    idleTimeout,
    sendPingsAutomatically: false,

    upgrade: (res: HttpResponse, req: HttpRequest, context: us_socket_context_t) => {
      const headers = new Map<string, string>();
      req.forEach((name, value) => headers.set(name, value));
      const query = req.getQuery();
      const requestPath = req.getUrl();
      const offered = offeredProtocols(headers.get('sec-websocket-protocol') ?? null);
      const request: GatewayRequest = {
        url: query ? `${requestPath}?${query}` : requestPath,
        path: requestPath,
        headers,
        protocols: offered,
        remoteAddress: textDecoder.decode(res.getRemoteAddressAsText()),
      };
      if (headers.get('upgrade')?.toLowerCase() !== 'websocket') {
        return refuseOverHttp(res, 400, {}, JSON.stringify({ error: ErrorReason.InvalidEnvelope, message: 'expected Upgrade: websocket' }));
      }
      const invalid: UpgradeRejected | undefined = handshakeRefusal({ get: (name) => headers.get(name.toLowerCase()) ?? null });
      if (invalid !== undefined) return refuseOverHttp(res, invalid.status, invalid.headers, JSON.stringify(invalid.body));
      const key = headers.get('sec-websocket-key') ?? '';
      const extensions = headers.get('sec-websocket-extensions') ?? '';
      const browser = (options.classifyClient?.(request) ?? (headers.has('origin') ? 'browser' : 'native')) === 'browser';
      const refuse = (status: number, body: string, passed: Readonly<Record<string, string>>): void => {
        if (!browser) return refuseOverHttp(res, status, passed, body);
        let parsed: { message?: unknown; retryAfterMs?: unknown; error?: unknown } = {};
        try {
          parsed = JSON.parse(body) as typeof parsed;
        } catch {}
        const refusal = {
          code: 4000 + status,
          reason: typeof parsed.message === 'string' ? parsed.message.slice(0, 120) : (STATUS_CODES[status] ?? 'refused'),
          ...(typeof parsed.retryAfterMs === 'number' ? { retryAfterMs: parsed.retryAfterMs } : {}),
          ...(typeof parsed.error === 'string' ? { error: parsed.error } : {}),
        };
        const protocol = offered.includes(PROTOCOL_NAME) ? PROTOCOL_NAME : (offered[0] ?? '');
        res.upgrade<ClientData>({ refusal }, key, protocol, extensions, context);
      };
      if (closing) return refuse(503, JSON.stringify({ error: ErrorReason.ShuttingDown, message: 'gateway shutting down' }), {});

      const route = routeOf(request, poolOfPath);
      if (route === undefined) return refuse(503, JSON.stringify({ error: ErrorReason.NoBackend, message: 'no backend available' }), { 'retry-after': '1' });

      let aborted = false;
      res.onAborted(() => {
        aborted = true;
      });
      const protocols = relayable(offered);
      dial(route.pool, route.routeKey, route.forwarded, protocols).then(
        (dialed) => {
          if (aborted) {
            if (dialed?.kind === 'open') dialed.backend.close(CloseCode.ClientLost, 'client went away during the upgrade');
            return;
          }
          try {
            res.cork(() => {
              if (dialed === undefined) {
                refuse(503, JSON.stringify({ error: ErrorReason.NoBackend, message: 'no backend available' }), { 'retry-after': '1' });
              } else if (dialed.kind === 'refused') {
                const passed: Record<string, string> = {};
                for (const name of PASSED_HEADERS) {
                  const value = dialed.headers[name];
                  if (value !== undefined) passed[name] = value;
                }
                refuse(dialed.status, dialed.body, passed);
              } else if (dialed.kind === 'open') {
                upgrading = true;
                res.upgrade<ClientData>({ link: openLink(dialed, route, protocols) }, key, dialed.backend.protocol, extensions, context);
              }
            });
          } finally {
            upgrading = false;
          }
        },
        (error: unknown) => {
          logger.error({ event: 'upgrade_failed', error: String(error) }, 'gateway: upgrade failed');
          if (!aborted) res.cork(() => res.writeStatus(statusLine(500)).end('', true));
        },
      );
    },

    open: (ws: UwsWebSocket<ClientData>) => {
      const data = ws.getUserData();
      if (data.link !== undefined) return data.link.attach(ws);
      const refusal = data.refusal;
      if (refusal === undefined) return ws.end(CloseCode.InternalError, 'no link');
      ws.cork(() => {
        ws.send(JSON.stringify(goodbyeMessage(refusal.code, refusal.reason, refusal.retryAfterMs, refusal.error)), false);
        ws.end(refusal.code, refusal.reason);
      });
    },

    message: (ws: UwsWebSocket<ClientData>, message: ArrayBuffer, isBinary: boolean) => {
      // Copied out of uWS's buffer, which it reuses once this callback returns: through a view,
      // into Node's buffer pool for small frames (a sixth of the cost of `message.slice(0)`).
      ws.getUserData().link?.fromClient(Buffer.from(new Uint8Array(message)), isBinary);
    },

    drain: (ws: UwsWebSocket<ClientData>) => {
      ws.getUserData().link?.drained();
    },

    pong: (ws: UwsWebSocket<ClientData>) => {
      const link = ws.getUserData().link;
      if (link !== undefined) link.clientHeard = true;
    },

    close: (ws: UwsWebSocket<ClientData>, code: number, message: ArrayBuffer) => {
      if (upgrading) {
        // Nothing in the open handler closes the leg: uWS did, as its cork() closes an upgraded
        // socket it mistakes for an HTTP one (README, "Not explained"). Counted, to tell it apart.
        stats.clientsClosedInUpgrade++;
        logger.warn({ event: 'client_closed_in_upgrade', code }, 'gateway: uWS closed a client leg during its upgrade');
      }
      ws.getUserData().link?.clientClosed(code, Buffer.from(message).toString());
    },
  });
  for (const [route, name] of Object.entries(paths)) {
    app.ws<ClientData>(route, behavior(name));
    // Plain HTTP on the route is answered as a node answers it.
    answerPlainHttp(app, route);
  }

  const longPollOptions = options.longPoll === false ? undefined : (options.longPoll ?? {});
  const longPoll =
    longPollOptions === undefined
      ? undefined
      : longPollEdge(
          {
            closing: () => closing,
            route(upgrade, protocols) {
              const url = new URL(upgrade.url);
              const request: GatewayRequest = {
                url: url.pathname + url.search,
                path: url.pathname,
                headers: { get: (name) => upgrade.headers.get(name) ?? undefined },
                protocols,
                remoteAddress: upgrade.remoteAddress ?? '',
              };
              return routeOf(request, longPollOptions.pool ?? Object.values(paths)[0] ?? DEFAULT_POOL);
            },
            dial: (route, protocols) => dial(route.pool, route.routeKey, route.forwarded, protocols),
            openLink,
            highWaterMark,
            maxBackpressure,
            maxFrameBytes,
            keepAliveIntervalMs: intervalMs,
            keepAliveGraceMs: graceMs,
            dialTimeoutMs,
          },
          longPollOptions,
        );
  if (longPoll !== undefined) {
    attachHttp(app, longPoll.path, longPoll.handle);
    attachHttp(app, `${longPoll.path}/*`, longPoll.handle);
  }

  // Keep-alive on both legs: one sweep for every link, no timer per link.
  const tickMs = Math.max(20, Math.min(intervalMs, graceMs) / 8);
  const sweep = setInterval(() => {
    const now = Date.now();
    for (const link of links) {
      if (link.client === undefined) continue;
      if (link.pausedAt !== 0 && now - link.pausedAt >= graceMs) {
        link.slowConsumer();
        continue;
      }
      if (!link.clientKeepAlive) {
        // A long-poll client whose polls other gateways may answer: its store's idle timeout watches it.
      } else if (link.clientHeard) {
        link.clientHeard = false;
        link.clientQuietSince = now;
        link.clientPingAt = 0;
      } else if (link.clientPingAt === 0 && now - link.clientQuietSince >= intervalMs) {
        link.clientPingAt = now;
        link.client.ping();
      } else if (link.clientPingAt !== 0 && now - link.clientPingAt >= graceMs) {
        stats.clientLegsLost++;
        link.clientLost(`client leg silent for ${now - link.clientQuietSince} ms`);
        continue;
      }
      if (link.holdingSince !== 0 && now - link.holdingSince >= graceMs) {
        stats.backendStalls++;
        link.backendLost(`backend leg not drained for ${now - link.holdingSince} ms`);
        continue;
      }
      // A paused backend leg is not read, so its silence says nothing.
      if (link.state !== 'open' || link.pausedAt !== 0) continue;
      if (link.backendHeard) {
        link.backendHeard = false;
        link.backendQuietSince = now;
        link.backendPingAt = 0;
      } else if (link.backendPingAt === 0 && now - link.backendQuietSince >= intervalMs) {
        link.backendPingAt = now;
        link.backend.ping();
      } else if (link.backendPingAt !== 0 && now - link.backendPingAt >= graceMs) {
        stats.backendLegsLost++;
        link.backendLost(`backend leg silent for ${now - link.backendQuietSince} ms`);
      }
    }
  }, tickMs);
  sweep.unref?.();

  await Promise.all([...pools.values()].map((pool) => pool.start()));
  const bindHost = options.host ?? '0.0.0.0';
  const listenSocket = await new Promise<us_listen_socket | false>((resolve) => app.listen(bindHost, options.port ?? 9090, resolve));
  if (listenSocket === false) {
    clearInterval(sweep);
    for (const pool of pools.values()) pool.stop();
    throw new Error(`@herald/gateway: cannot listen on ${bindHost}:${options.port ?? 9090}`);
  }
  const drainMs = options.drainMs ?? 1000;
  let closed: Promise<void> | undefined;
  return {
    port: uws.us_socket_local_port(listenSocket),
    app,
    stats,
    get backends() {
      return [...pools.values()].flatMap((pool) => pool.all);
    },
    get bufferedBytes() {
      let bytes = 0;
      for (const link of links) bytes += link.clientBuffered;
      return bytes;
    },
    get bufferedTowardBackends() {
      let bytes = 0;
      for (const link of links) bytes += link.backendBuffered;
      return bytes;
    },
    close() {
      closed ??= (async () => {
        closing = true;
        for (const pool of pools.values()) pool.stop();
        for (const link of [...links]) link.close(CloseCode.ShuttingDown, 'gateway shutting down', CloseCode.ClientLost, 'gateway shutting down');
        const deadline = Date.now() + drainMs;
        // Long-poll clients learn of the close at their next poll: wait for it as for the sockets.
        while ((links.size > 0 || (longPoll?.size ?? 0) > 0) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
        clearInterval(sweep);
        await longPoll?.close();
        uws.us_listen_socket_close(listenSocket);
      })();
      return closed;
    },
  };
}
