/**
 * The long-poll transport as a fetch handler (`Request` → `Response`), so it mounts on Hono in
 * any runtime, and as an `HttpExchange` handler, so uWS serves it without fetch objects. The
 * session it carries is the core's own: same envelope, same frames, same delivery, resume and
 * error rules as over WebSocket.
 *
 *   POST   {path}        open: `Herald-Protocol: herald.v1`, optional `Authorization`
 *   POST   {path}/send   a JSON array of frames (each exactly the text a WebSocket frame holds)
 *   GET    {path}/poll   `?ack=<cursor>`: held until frames arrive or `pollTimeoutMs`
 *   DELETE {path}        close
 *
 * The long-poll session id travels in the `Herald-Session` header, never in a URL.
 */
import { ErrorReason, Status, randomId, readRequestBody, type ErrorBody, type Herald, type HeraldSocket, type HttpExchange, type Meter, type UpgradeAccepted, type UpgradeRequest } from '@herald/core';
import type { LongPollHandler, LongPollPeer, RequestPeer } from './long-poll-handler.ts';
import { LongPollSocket, type PollResult } from './long-poll-socket.ts';
import { sharedHandler } from './shared-handler.ts';
import { MemoryLongPollStore, type LongPollStore, type SharedLongPollStore } from './store.ts';
import { HELD_POLLS_METRIC } from './held-polls-metric.ts';
import { ACK_RULE, JSON_HEADERS, parseAck, pollBody, PROTOCOL_HEADER, SESSION_HEADER } from './wire-format.ts';

/** Options of `createLongPollHandler`. */
export interface LongPollOptions {
  /** Where the endpoints live (default `/lp`). */
  readonly path?: string;
  /** How long a poll is held when there is nothing to send (default 25 s, below common proxy timeouts). */
  readonly pollTimeoutMs?: number;
  /** A connection not heard from for this long is dropped; its session stays resumable (default 60 s). */
  readonly idleTimeoutMs?: number;
  /** Frames per send (default 64). */
  readonly maxBatch?: number;
  /** Body bytes per send (default 64 × the server's `maxMessageBytes`, capped at 4 MiB). */
  readonly maxBodyBytes?: number;
  /** Buffered bytes per connection before it is closed with 4507 (default 4 × `highWaterMark`). */
  readonly maxBufferedBytes?: number;
  /** Where connections are kept (default in memory); a `SharedLongPollStore` lets every node serve them. */
  readonly store?: LongPollStore | SharedLongPollStore;
}

const NO_STORE: Readonly<Record<string, string>> = { 'cache-control': 'no-store' };

function refuse(exchange: HttpExchange, status: number, error: ErrorReason, message: string, extra?: Pick<ErrorBody, 'issues'>): void {
  const body: ErrorBody = extra === undefined ? { error, message } : { error, message, ...extra };
  exchange.respond(status, JSON_HEADERS, JSON.stringify(body));
}

/** The value of `name` in a query string (`null` when absent), without splitting it. */
function queryParam(query: string, name: string): string | null {
  let at = 0;
  while (at <= query.length) {
    const amp = query.indexOf('&', at);
    const end = amp === -1 ? query.length : amp;
    if (query.startsWith(name, at) && (at + name.length === end || query.charCodeAt(at + name.length) === 61)) {
      const value = query.slice(Math.min(at + name.length + 1, end), end);
      if (!/[%+]/.test(value)) return value;
      try {
        return decodeURIComponent(value.replace(/\+/g, ' '));
      } catch {
        return value;
      }
    }
    at = end + 1;
  }
  return null;
}

/** The items of a send that are not strings, by index; undefined in a well-formed batch. */
function nonStrings(batch: readonly unknown[]): Array<{ path: [number]; message: string }> | undefined {
  let issues: Array<{ path: [number]; message: string }> | undefined;
  for (let i = 0; i < batch.length; i++) {
    if (typeof batch[i] !== 'string') (issues ??= []).push({ path: [i], message: 'a frame is a string holding one envelope' });
  }
  return issues;
}

/** A fetch `Request` as an exchange; `respond` settles the `Response`. */
class FetchExchange implements HttpExchange {
  readonly method: string;
  readonly path: string;
  readonly query: string;
  readonly remoteAddress: string | undefined;
  readonly proxiedAddress: string | undefined;

  constructor(
    private readonly request: Request,
    peer: RequestPeer,
    private readonly resolve: (response: Response) => void,
    private readonly reject: (error: unknown) => void,
  ) {
    const url = new URL(request.url);
    this.method = request.method;
    this.path = url.pathname;
    this.query = url.search.slice(1);
    this.remoteAddress = peer.remoteAddress;
    this.proxiedAddress = peer.proxiedAddress;
  }

  header(name: string): string | null {
    return this.request.headers.get(name);
  }

  readBody(limit: number, done: (text: string | undefined) => void): void {
    readRequestBody(this.request, limit).then(done, this.reject);
  }

  onAbort(listener: () => void): void {
    this.request.signal.addEventListener('abort', listener, { once: true });
  }

  respond(status: number, headers: Readonly<Record<string, string>>, body: string): void {
    this.resolve(new Response(status === 204 ? null : body, { status, headers }));
  }
}

/**
 * Creates the long-poll endpoints for a Herald server.
 *
 * @example
 * const longPoll = createLongPollHandler(herald);
 * honoApp.all('/lp/*', (c) => longPoll.fetch(c.req.raw));
 * honoApp.all('/lp', (c) => longPoll.fetch(c.req.raw));
 * // on uWS, without fetch objects: attachHttp(uwsApp, '/lp', longPoll.handle); attachHttp(uwsApp, '/lp/*', longPoll.handle);
 */
export function createLongPollHandler(herald: Herald<any>, options: LongPollOptions = {}): LongPollHandler {
  return createLongPollEndpoints<UpgradeAccepted>(
    {
      maxMessageBytes: herald.limits.maxMessageBytes,
      highWaterMark: herald.highWaterMark,
      meter: herald.meter,
      upgrade: (request) => herald.upgrade(request),
      open: (socket, accepted) => herald.open(socket, { ...accepted, client: 'browser' }),
    },
    options,
  );
}

/** A refused open, answered with `status`, `headers` and the JSON of `body`. */
export interface LongPollRefusal {
  readonly ok: false;
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: unknown;
}

/**
 * What the long-poll endpoints run their connections on: a Herald server (`createLongPollHandler`),
 * or anything else that opens sessions, such as `@herald/gateway` relaying them to a backend.
 */
export interface LongPollServer<Accepted extends { readonly ok: true } = { readonly ok: true }> {
  /** The largest frame accepted; sends default to 64 of them per body. */
  readonly maxMessageBytes: number;
  /** Buffered bytes per connection past which the peer is told when they drain (`LongPollPeer.drained`). */
  readonly highWaterMark: number;
  readonly meter?: Meter | undefined;
  /** Decides an open, from its headers (`Herald-Protocol` is read as `Sec-WebSocket-Protocol`). */
  upgrade(request: UpgradeRequest): Promise<Accepted | LongPollRefusal>;
  /**
   * Starts the session of an accepted open on `socket` (a `LongPollSocket`, or a shared store's
   * socket), which buffers what it is sent until a poll takes it.
   */
  open(socket: HeraldSocket, accepted: Accepted): LongPollPeer;
}

export interface Settings {
  readonly path: string;
  readonly pollTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly maxBatch: number;
  readonly maxBodyBytes: number;
  readonly maxBufferedBytes: number;
}

function settingsOf(options: LongPollOptions, maxMessageBytes: number, highWaterMark: number): Settings {
  return {
    path: (options.path ?? '/lp').replace(/\/$/, ''),
    pollTimeoutMs: options.pollTimeoutMs ?? 25_000,
    idleTimeoutMs: options.idleTimeoutMs ?? 60_000,
    maxBatch: options.maxBatch ?? 64,
    maxBodyBytes: options.maxBodyBytes ?? Math.min(64 * maxMessageBytes, 4 * 1024 * 1024),
    maxBufferedBytes: options.maxBufferedBytes ?? 4 * highWaterMark,
  };
}

/**
 * The long-poll endpoints for any `LongPollServer` (`createLongPollHandler` is this for a
 * Herald server; `@herald/gateway` runs its own on the sessions it relays).
 */
export function createLongPollEndpoints<Accepted extends { readonly ok: true }>(server: LongPollServer<Accepted>, options: LongPollOptions = {}): LongPollHandler {
  const settings = settingsOf(options, server.maxMessageBytes, server.highWaterMark);
  if (options.store !== undefined && 'shared' in options.store) return sharedHandler(server, options.store, settings);
  const { path, pollTimeoutMs, idleTimeoutMs, maxBatch, maxBodyBytes, maxBufferedBytes } = settings;
  const store = options.store ?? new MemoryLongPollStore();
  let sweep: ReturnType<typeof setInterval> | undefined;
  // Held polls are ended by one timer, not one each: a poll waits between `pollTimeoutMs - holdTick` and `pollTimeoutMs`.
  const holdTick = Math.max(1, Math.min(1000, Math.floor(pollTimeoutMs / 5)));
  const holding = new Set<LongPollSocket>();
  let holdSweep: ReturnType<typeof setInterval> | undefined;
  server.meter?.gauge(HELD_POLLS_METRIC, () => {
    let held = 0;
    for (const socket of holding) if (socket.holding) held++;
    return held;
  });

  const expire = (): void => {
    const now = Date.now();
    for (const [sid, socket] of store.entries()) {
      if (now - socket.lastSeenAt < idleTimeoutMs) continue;
      store.delete(sid);
      socket.release();
      socket.connection?.closed(1006);
    }
    if (store.size === 0) {
      clearInterval(sweep);
      sweep = undefined;
    }
  };

  const endHeldPolls = (): void => {
    const cutoff = Date.now() - (pollTimeoutMs - holdTick);
    for (const socket of holding) if (!socket.releaseHeldBefore(cutoff)) holding.delete(socket);
    if (holding.size === 0) {
      clearInterval(holdSweep);
      holdSweep = undefined;
    }
  };

  function open(exchange: HttpExchange): void {
    // Headers are read now, before the first await (see `HttpExchange.header`).
    const offered = exchange.header(PROTOCOL_HEADER);
    const credential = exchange.header('authorization');
    const { remoteAddress, proxiedAddress } = exchange;
    const upgrade = server.upgrade({
      url: `http://${exchange.header('host') ?? 'localhost'}${exchange.path}`,
      ...(remoteAddress === undefined ? {} : { remoteAddress }),
      ...(proxiedAddress === undefined ? {} : { proxiedAddress }),
      headers: {
        get: (name: string) => {
          const lower = name.toLowerCase();
          return lower === 'sec-websocket-protocol' ? offered : exchange.header(lower);
        },
      },
    });
    upgrade.then(
      (decision) => {
        if (!decision.ok) return exchange.respond(decision.status, { ...JSON_HEADERS, ...decision.headers }, JSON.stringify(decision.body));
        const sid = randomId(22);
        const socket = new LongPollSocket(credential, maxBufferedBytes, Date.now());
        store.set(sid, socket);
        sweep ??= setInterval(expire, Math.min(5000, idleTimeoutMs / 2));
        socket.connection = server.open(socket, decision);
        // The open answers like a poll (the Welcome is already buffered), with the id in front.
        const headers = { ...JSON_HEADERS, [SESSION_HEADER]: sid };
        if (socket.poll(Date.now(), (result) => exchange.respond(200, headers, '{"sid":"' + sid + '",' + pollBody(result).slice(1)))) socket.release();
      },
      () => refuse(exchange, Status.InternalError, ErrorReason.Internal, 'the open failed'),
    );
  }

  /** The connection a request names, if it exists and the request carries its credential. */
  function connectionOf(exchange: HttpExchange, sid: string | null, now: number): LongPollSocket | undefined {
    const socket = sid === null ? undefined : store.get(sid);
    if (socket === undefined) {
      refuse(exchange, Status.NotFound, ErrorReason.UnknownSession, 'unknown or expired long-poll session: open a new one and resume');
      return undefined;
    }
    const credential = exchange.header('authorization');
    if (credential !== null && credential !== socket.credential) {
      refuse(exchange, Status.Forbidden, ErrorReason.Forbidden, 'credential does not match the session');
      return undefined;
    }
    socket.lastSeenAt = now;
    return socket;
  }

  function send(exchange: HttpExchange, socket: LongPollSocket): void {
    exchange.readBody(maxBodyBytes, (text) => {
      if (text === undefined) return refuse(exchange, Status.PayloadTooLarge, ErrorReason.TooLarge, `body exceeds ${maxBodyBytes} bytes`);
      let batch: unknown;
      try {
        batch = JSON.parse(text);
      } catch {
        return refuse(exchange, Status.BadRequest, ErrorReason.InvalidBatch, 'body is not JSON');
      }
      if (!Array.isArray(batch) || batch.length === 0 || batch.length > maxBatch) {
        return refuse(exchange, Status.BadRequest, ErrorReason.InvalidBatch, `body must be a JSON array of 1 to ${maxBatch} frames`);
      }
      const issues = nonStrings(batch);
      if (issues !== undefined) return refuse(exchange, Status.BadRequest, ErrorReason.InvalidBatch, 'every frame must be a string', { issues });
      for (const frame of batch as string[]) socket.connection?.receive(frame);
      exchange.respond(204, NO_STORE, '');
    });
  }

  function poll(exchange: HttpExchange, socket: LongPollSocket, sid: string, now: number): void {
    const ack = parseAck(queryParam(exchange.query, 'ack'));
    if (ack === undefined) return refuse(exchange, Status.BadRequest, ErrorReason.InvalidBatch, ACK_RULE);
    socket.connection?.alive();
    socket.ack(ack, server.highWaterMark);
    const answer = (result: PollResult): void => {
      if (result.closed !== undefined) store.delete(sid);
      exchange.respond(200, JSON_HEADERS, pollBody(result));
    };
    if (!socket.poll(now, answer)) return;
    exchange.onAbort(() => socket.cancel(answer));
    holding.add(socket);
    holdSweep ??= setInterval(endHeldPolls, holdTick);
  }

  function handle(exchange: HttpExchange): void {
    const { method, path: pathname } = exchange;
    const route = pathname === path ? '' : pathname.startsWith(path + '/') ? pathname.slice(path.length) : undefined;
    if (route === undefined) return refuse(exchange, Status.NotFound, ErrorReason.UnknownType, 'not a long-poll endpoint');
    if (route === '' && method === 'POST') return open(exchange);
    const sid = exchange.header(SESSION_HEADER);
    const now = Date.now();
    const socket = connectionOf(exchange, sid, now);
    if (socket === undefined) return;
    if (route === '/send' && method === 'POST') return send(exchange, socket);
    if (route === '/poll' && method === 'GET') return poll(exchange, socket, sid as string, now);
    if (route === '' && method === 'DELETE') {
      store.delete(sid as string);
      socket.release();
      socket.connection?.closed(1000);
      return exchange.respond(204, NO_STORE, '');
    }
    refuse(exchange, Status.NotFound, ErrorReason.UnknownType, `no ${method} ${pathname}`);
  }

  return {
    path,
    get size() {
      return store.size;
    },
    handle,
    fetch(request, peer = {}) {
      return new Promise<Response>((resolve, reject) => handle(new FetchExchange(request, peer, resolve, reject)));
    },
    close() {
      clearInterval(sweep);
      sweep = undefined;
      clearInterval(holdSweep);
      holdSweep = undefined;
      holding.clear();
      for (const [, socket] of store.entries()) socket.release();
      return Promise.resolve();
    },
  };
}
