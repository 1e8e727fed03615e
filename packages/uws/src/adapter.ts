/**
 * Herald on uWebSockets.js: the upgrade (headers read before any await, `onAborted`, `cork`),
 * the refusal strategy, and the wiring of uWS events to the core's connection. Topic frames
 * go out through uWS's native publish.
 */
import { STATUS_CODES } from 'node:http';
import { type AddressInfo, createServer } from 'node:net';
import { ErrorReason, handshakeRefusal, nativeTopic, type Herald, type UpgradeDecision, type UpgradeRejected } from '@herald/core';
import type { HttpRequest, HttpResponse, TemplatedApp, us_listen_socket, us_socket_context_t, WebSocket } from 'uWebSockets.js';
import { attachHealth, type HealthListenerOptions, listenHealth } from './health.ts';
import { beginOn, drained, end, inFlightOf } from './in-flight.ts';
import { loadUws, type UwsModule } from './native.ts';
import { drainedIn, flushPending, inCallback, receiveIn, UwsSocket, type SocketShared, type UserData } from './uws-socket.ts';

/** Options of `attachHerald` and `serveHerald`. */
export interface HeraldUwsOptions {
  /** The WebSocket route (default `/ws`). */
  readonly path?: string;
  /**
   * Bytes uWS may buffer for one socket before it drops a frame, which Herald answers by
   * closing with 4507 so the client resumes (default: 4 × the server's `highWaterMark`).
   */
  readonly maxBackpressure?: number;
  /** Answer `/healthz` and `/readyz` on the app (default true; `herald.health()` decides readiness). */
  readonly health?: boolean;
}

/** Options of `serveHerald`. */
export interface HeraldUwsServeOptions extends HeraldUwsOptions {
  /** Default 9090; 0 picks a free port. */
  readonly port?: number;
  /** Default `0.0.0.0`. */
  readonly host?: string;
  /** An app to serve on, with routes of your own (default: a new one). */
  readonly app?: TemplatedApp;
  /**
   * The longest `close()` keeps listening after it has told every client to go (default
   * 1000 ms): until every WebSocket has closed and every HTTP request on Herald's routes
   * (`attachHttp`, `attachFetch`) is answered and written, such as held long-poll polls with
   * their Goodbye. Meanwhile new WebSocket upgrades and long-poll opens get 503 `shutting_down`
   * rather than a refused connection.
   */
  readonly drainMs?: number;
  /**
   * Let other processes listen on the same port (uWS's default, SO_REUSEPORT: the kernel
   * splits connections between them). Off by default: a second server on a port in use fails
   * with `EADDRINUSE` instead of silently taking half the connections.
   */
  readonly sharePort?: boolean;
  /**
   * Also answer health checks on a listener of Node's own (`port` 0: a free one), for checkers
   * that speak HTTP/1.0 such as haproxy's default `option httpchk`: uWS answers HTTP/1.0, and
   * HTTP/1.1 without `Host`, with nothing at all. `/healthz` there is liveness, every other
   * path readiness. It stays up while `close()` drains, answering 503, and closes with the server.
   */
  readonly healthListener?: HealthListenerOptions;
}

/** A running attachment. */
export interface HeraldUwsHandle {
  /**
   * Graceful shutdown: new upgrades get 503, every client is told to reconnect elsewhere
   * (`herald.Goodbye` + 4503), queued frames are flushed, and the listen socket (if this
   * handle owns one) is closed once the server has drained (`drainMs`).
   */
  close(): Promise<void>;
}

/** A server started by `serveHerald`. */
export interface HeraldUwsServer extends HeraldUwsHandle {
  readonly app: TemplatedApp;
  /** The port actually bound (useful with port 0). */
  readonly port: number;
  /** The health listener's port, when `healthListener` was given. */
  readonly healthPort: number | undefined;
}

const textDecoder = new TextDecoder();

function statusLine(status: number): string {
  return `${status} ${STATUS_CODES[status] ?? 'Error'}`;
}

/** Reads everything the decision needs from `req`, which uWS invalidates at the first await. */
function readUpgrade(res: HttpResponse, req: HttpRequest) {
  const headers = new Map<string, string>();
  req.forEach((name, value) => headers.set(name, value));
  const query = req.getQuery();
  return {
    url: query ? `${req.getUrl()}?${query}` : req.getUrl(),
    headers: { get: (name: string) => headers.get(name.toLowerCase()) ?? null },
    remoteAddress: textDecoder.decode(res.getRemoteAddressAsText()),
    // Empty unless the peer opened with a PROXY protocol v2 header; the core trusts it only from `trustProxy` peers.
    proxiedAddress: textDecoder.decode(res.getProxiedRemoteAddressAsText()),
    key: headers.get('sec-websocket-key') ?? '',
    extensions: headers.get('sec-websocket-extensions') ?? '',
  };
}

/** A handshake with every header right but another method than GET. */
const NOT_GET: UpgradeRejected = {
  ok: false,
  status: 405,
  body: { error: ErrorReason.ValidationFailed, message: 'a WebSocket handshake is a GET request' },
  client: 'native',
  protocol: undefined,
  headers: { allow: 'GET' },
};

function refuseOverHttp(res: HttpResponse, decision: UpgradeRejected): void {
  res.writeStatus(statusLine(decision.status));
  for (const [name, value] of Object.entries(decision.headers)) res.writeHeader(name, value);
  res.writeHeader('content-type', 'application/json');
  res.end(JSON.stringify(decision.body), true);
}

/**
 * Answers plain HTTP on a WebSocket route: uWS serves a request there without
 * `Sec-WebSocket-Key` as plain HTTP, and with no route for it would close the connection
 * unanswered. It gets the bad handshake's answer (400, 426), or 405 for a method but GET.
 * Servers in front of Herald on their own uWS routes (`@herald/gateway`) call it too.
 */
export function answerPlainHttp(app: TemplatedApp, pattern: string): void {
  app.any(pattern, (res: HttpResponse, req: HttpRequest) => {
    const headers = new Map<string, string>();
    req.forEach((name, value) => headers.set(name, value));
    refuseOverHttp(res, handshakeRefusal({ get: (name) => headers.get(name) ?? null }) ?? NOT_GET);
  });
}

/**
 * Serves a Herald server on a route of an existing uWS app.
 *
 * @example
 * import uWS from 'uWebSockets.js';
 * const app = uWS.App();
 * const handle = attachHerald(app, herald, { path: '/ws' });
 * app.listen(9090, () => {});
 */
/** uWS's own frame limit, as a multiple of `maxMessageBytes` (PROTOCOL.md §2). */
const HARD_LIMIT_FACTOR = 2;
/** uWS refuses a longer `idleTimeout` by aborting the process, which no `catch` can stop. */
const MAX_IDLE_TIMEOUT_S = 960;
const IDLE_MARGIN_S = 8;

export function attachHerald(app: TemplatedApp, herald: Herald<any>, options: HeraldUwsOptions = {}, uws: UwsModule = loadUws()): HeraldUwsHandle {
  const limits = herald.limits;
  const idleTimeout = Math.max(IDLE_MARGIN_S, Math.ceil((limits.pingIntervalMs + limits.pingTimeoutMs) / 1000) + IDLE_MARGIN_S);
  if (idleTimeout > MAX_IDLE_TIMEOUT_S) {
    throw new RangeError(
      `pingIntervalMs + pingTimeoutMs is ${limits.pingIntervalMs + limits.pingTimeoutMs} ms; uWebSockets.js allows at most ${(MAX_IDLE_TIMEOUT_S - IDLE_MARGIN_S) * 1000} ms`,
    );
  }
  const maxBackpressure = options.maxBackpressure ?? herald.highWaterMark * 4;
  // Room kept below maxBackpressure for the close frame that tells a slow consumer to resume.
  const shared: SocketShared = { highWaterMark: herald.highWaterMark, closeAbove: maxBackpressure - 1024, inFlight: inFlightOf(app), binaryProtocol: undefined };
  const sharedBinary = new Map([...herald.encoders.keys()].map((protocol): [string, SocketShared] => [protocol, { ...shared, binaryProtocol: protocol }]));
  if (options.health !== false) attachHealth(app, herald);
  const encoders = [...herald.encoders.values()];
  herald.useNativePublish((topic, frame) => {
    flushPending();
    app.publish(topic, frame, false);
    // Encoded only for an encoding some socket subscribed in: once per publication, not per subscriber.
    for (const encoder of encoders) {
      const binaryTopic = nativeTopic(encoder.codec.protocol, topic);
      if (app.numSubscribers(binaryTopic) > 0) app.publish(binaryTopic, encoder.encodeShared(frame), true);
    }
  });
  app.ws<UserData>(options.path ?? '/ws', {
    compression: uws.DISABLED,
    // Above the advertised limit, so a frame somewhat too large reaches the core and is answered
    // 413 too_large; only one beyond twice the limit ends the connection (uWS: abruptly, 1006).
    maxPayloadLength: limits.maxMessageBytes * HARD_LIMIT_FACTOR,
    maxBackpressure,
    closeOnBackpressureLimit: 1,
    // The core's sweep drives keep-alive (RFC pings for native clients, app pings for
    // browsers); uWS's idle timeout is only a backstop above interval + timeout.
    idleTimeout,
    sendPingsAutomatically: false,

    upgrade: (res: HttpResponse, req: HttpRequest, context: us_socket_context_t) => {
      // A proxy without Upgrade support forwards the handshake headers but not `Upgrade`: say so
      // at once, so the client falls back instead of waiting on a 101 the proxy cannot relay.
      if (req.getHeader('upgrade').toLowerCase() !== 'websocket') {
        res.writeStatus(statusLine(400)).writeHeader('content-type', 'application/json');
        res.end(JSON.stringify({ error: 'invalid_envelope', message: 'expected Upgrade: websocket' }), true);
        return;
      }
      const upgrade = readUpgrade(res, req);
      const invalid = handshakeRefusal(upgrade.headers);
      if (invalid !== undefined) return refuseOverHttp(res, invalid);
      let aborted = false;
      res.onAborted(() => {
        aborted = true;
      });
      herald.upgrade(upgrade).then(
        (decision) => {
          if (aborted) return;
          res.cork(() => {
            if (!decision.ok && decision.client === 'native') refuseOverHttp(res, decision);
            else res.upgrade<UserData>({ decision, socket: undefined, connection: undefined }, upgrade.key, decision.protocol ?? '', upgrade.extensions, context);
          });
        },
        () => {
          if (!aborted) res.cork(() => res.writeStatus(statusLine(500)).end('', true));
        },
      );
    },

    open: (ws: WebSocket<UserData>) => {
      const data = ws.getUserData();
      beginOn(app);
      const decision = data.decision as UpgradeDecision;
      // Held by every socket for as long as it is open otherwise: a session keeps what it needs.
      data.decision = undefined;
      const socket = (data.socket = new UwsSocket(ws, (decision.ok ? sharedBinary.get(decision.protocol) : undefined) ?? shared));
      inCallback(socket, () => {
        if (decision.ok) data.connection = herald.open(socket, decision);
        else herald.reject(socket, decision);
      });
    },

    message: (ws: WebSocket<UserData>, message: ArrayBuffer, isBinary: boolean) => {
      const data = ws.getUserData();
      const connection = data.connection;
      if (connection === undefined) return;
      // uWS's buffer lives for this callback only: the core reads a binary frame before `receive` returns and keeps none of it.
      receiveIn(data.socket, connection, isBinary ? new Uint8Array(message) : textDecoder.decode(message));
    },

    drain: (ws: WebSocket<UserData>) => {
      const data = ws.getUserData();
      drainedIn(data.socket, data.connection);
    },

    pong: (ws: WebSocket<UserData>) => {
      ws.getUserData().connection?.alive();
    },

    close: (ws: WebSocket<UserData>, code: number) => {
      const data = ws.getUserData();
      // uWS calls `close` only for a socket it called `open` for, which counted it.
      if (data.socket !== undefined) data.socket.closed = true;
      end(shared.inFlight);
      data.connection?.closed(code);
    },
  });
  answerPlainHttp(app, options.path ?? '/ws');
  return {
    async close() {
      await herald.close();
      flushPending();
    },
  };
}

/** Listens on `host:port` with Node and closes again: the error (`EADDRINUSE`, `EACCES`, …), or undefined when the port is free. */
function probeListen(host: string, port: number): Promise<NodeJS.ErrnoException | undefined> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', resolve);
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve(undefined)));
  });
}

function listenError(host: string, port: number, cause: NodeJS.ErrnoException | undefined): Error {
  const error: NodeJS.ErrnoException = new Error(
    cause?.code === 'EADDRINUSE'
      ? `@herald/uws: port ${port} on ${host} is already in use (EADDRINUSE); stop the other server or choose another port`
      : `@herald/uws: cannot listen on ${host}:${port}${cause === undefined ? '' : ` (${cause.code ?? cause.message})`}`,
  );
  if (cause?.code !== undefined) error.code = cause.code;
  return error;
}

/**
 * Starts a uWS server with Herald on `path` and resolves once it listens.
 *
 * @example
 * const server = await serveHerald(herald, { port: 9090 });
 * process.on('SIGTERM', () => server.close());
 */
export async function serveHerald(herald: Herald<any>, options: HeraldUwsServeOptions = {}): Promise<HeraldUwsServer> {
  const uws = loadUws();
  const app = options.app ?? uws.App();
  const attached = attachHerald(app, herald, options, uws);
  const host = options.host ?? '0.0.0.0';
  const port = options.port ?? 9090;
  // uWS listens with SO_REUSEPORT, so a second server on a port in use would silently share it;
  // its exclusive flag drops SO_REUSEADDR too, and a restart then fails while old connections
  // linger in TIME_WAIT. So Node, which sets only SO_REUSEADDR, checks the port first.
  if (options.sharePort !== true && port !== 0) {
    const inUse = await probeListen(host, port);
    if (inUse !== undefined) throw listenError(host, port, inUse);
  }
  const listenSocket = await new Promise<us_listen_socket | false>((resolve) => app.listen(host, port, resolve));
  if (listenSocket === false) throw listenError(host, port, await probeListen(host, port));
  const health = options.healthListener;
  const healthServer = health === undefined ? undefined : await listenHealth(herald, health.host ?? host, health.port).catch((error: unknown) => {
    uws.us_listen_socket_close(listenSocket);
    throw error;
  });
  const drainMs = options.drainMs ?? 1000;
  let closed: Promise<void> | undefined;
  return {
    app,
    port: uws.us_socket_local_port(listenSocket),
    healthPort: healthServer === undefined ? undefined : (healthServer.address() as AddressInfo).port,
    close() {
      closed ??= (async () => {
        await attached.close();
        // Still listening: what arrives now is refused with 503 by `herald.upgrade`, and answers
        // given after the close (held long-poll polls woken by their Goodbye) are written.
        await drained(app, drainMs);
        uws.us_listen_socket_close(listenSocket);
        if (healthServer !== undefined) {
          healthServer.closeAllConnections();
          await new Promise((resolve) => healthServer.close(resolve));
        }
      })();
      return closed;
    },
  };
}
