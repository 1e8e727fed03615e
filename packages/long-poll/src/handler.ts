/**
 * The long-poll transport as a fetch handler (`Request` → `Response`), so it mounts on Hono in
 * any runtime and on uWS through a small bridge. The session it carries is the core's own:
 * same envelope, same frames, same delivery, resume and error rules as over WebSocket.
 *
 *   POST   {path}        open: `Herald-Protocol: herald.v1`, optional `Authorization`
 *   POST   {path}/send   a JSON array of frames (each exactly the text a WebSocket frame holds)
 *   GET    {path}/poll   `?ack=<cursor>`: held until frames arrive or `pollTimeoutMs`
 *   DELETE {path}        close
 *
 * The long-poll session id travels in the `Herald-Session` header, never in a URL.
 */
import { ErrorReason, Status, randomId, type ErrorBody, type Herald } from '@herald/core';
import { LongPollSocket, type PollResult } from './long-poll-socket.ts';
import { sharedHandler } from './shared-handler.ts';
import { MemoryLongPollStore, type LongPollStore, type SharedLongPollStore } from './store.ts';

export const SESSION_HEADER = 'herald-session';
export const PROTOCOL_HEADER = 'herald-protocol';

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

/** A mounted long-poll endpoint. */
export interface LongPollHandler {
  /** Answers a request under `path` (others get 404). */
  fetch(request: Request): Promise<Response>;
  /** Stops the expiry sweep and answers held polls. */
  close(): void;
  readonly path: string;
  /** Open long-poll connections. */
  readonly size: number;
}

const JSON_HEADERS = { 'content-type': 'application/json', 'cache-control': 'no-store' };

export function json(status: number, body: string, headers: Record<string, string> = {}): Response {
  return new Response(body, { status, headers: { ...JSON_HEADERS, ...headers } });
}

export function refuse(status: number, error: ErrorReason, message: string, extra?: Pick<ErrorBody, 'issues'>): Response {
  const body: ErrorBody = extra === undefined ? { error, message } : { error, message, ...extra };
  return json(status, JSON.stringify(body));
}

/** `{"from":N,"messages":[…]}`: server frames are JSON already, so they are joined, not re-encoded. */
export function pollBody(result: PollResult): string {
  const closed = result.closed === undefined ? '' : ',"closed":' + JSON.stringify(result.closed);
  return '{"from":' + result.from + ',"messages":[' + result.frames.join(',') + ']' + closed + '}';
}

export async function readBody(request: Request, limit: number): Promise<string | undefined> {
  const declared = Number(request.headers.get('content-length') ?? '0');
  if (declared > limit) return undefined;
  const reader = request.body?.getReader();
  if (reader === undefined) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      return undefined;
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.byteLength;
  }
  return new TextDecoder().decode(bytes);
}

/**
 * Creates the long-poll endpoints for a Herald server.
 *
 * @example
 * const longPoll = createLongPollHandler(herald);
 * honoApp.all('/lp/*', (c) => longPoll.fetch(c.req.raw));
 * honoApp.all('/lp', (c) => longPoll.fetch(c.req.raw));
 */
export function createLongPollHandler(herald: Herald<any>, options: LongPollOptions = {}): LongPollHandler {
  const path = (options.path ?? '/lp').replace(/\/$/, '');
  const pollTimeoutMs = options.pollTimeoutMs ?? 25_000;
  const idleTimeoutMs = options.idleTimeoutMs ?? 60_000;
  const maxBatch = options.maxBatch ?? 64;
  const maxBodyBytes = options.maxBodyBytes ?? Math.min(64 * herald.limits.maxMessageBytes, 4 * 1024 * 1024);
  const maxBufferedBytes = options.maxBufferedBytes ?? 4 * herald.highWaterMark;
  if (options.store !== undefined && 'shared' in options.store) {
    return sharedHandler(herald, options.store, { path, pollTimeoutMs, idleTimeoutMs, maxBatch, maxBodyBytes, maxBufferedBytes });
  }
  const store = options.store ?? new MemoryLongPollStore();
  let sweep: ReturnType<typeof setInterval> | undefined;

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

  async function open(request: Request): Promise<Response> {
    const offered = request.headers.get(PROTOCOL_HEADER);
    const headers = {
      get: (name: string) => (name.toLowerCase() === 'sec-websocket-protocol' ? offered : request.headers.get(name)),
    };
    const decision = await herald.upgrade({ url: request.url, headers });
    if (!decision.ok) return json(decision.status, JSON.stringify(decision.body), decision.headers);
    const sid = randomId(22);
    const socket = new LongPollSocket(request.headers.get('authorization'), maxBufferedBytes, Date.now());
    store.set(sid, socket);
    sweep ??= setInterval(expire, Math.min(5000, idleTimeoutMs / 2));
    socket.connection = herald.open(socket, { ...decision, client: 'browser' });
    // The open answers like a poll (the Welcome is already buffered), with the id in front.
    return await new Promise<Response>((resolve) =>
      socket.poll(0, (result) => resolve(json(200, '{"sid":"' + sid + '",' + pollBody(result).slice(1), { [SESSION_HEADER]: sid }))),
    );
  }

  /** The connection a request names, if it exists and the request carries its credential. */
  function connectionOf(request: Request): LongPollSocket | Response {
    const sid = request.headers.get(SESSION_HEADER);
    const socket = sid === null ? undefined : store.get(sid);
    if (socket === undefined) return refuse(Status.NotFound, ErrorReason.UnknownSession, 'unknown or expired long-poll session: open a new one and resume');
    const credential = request.headers.get('authorization');
    if (credential !== null && credential !== socket.credential) return refuse(Status.Forbidden, ErrorReason.Forbidden, 'credential does not match the session');
    socket.lastSeenAt = Date.now();
    return socket;
  }

  async function send(request: Request, socket: LongPollSocket): Promise<Response> {
    const text = await readBody(request, maxBodyBytes);
    if (text === undefined) return refuse(Status.PayloadTooLarge, ErrorReason.TooLarge, `body exceeds ${maxBodyBytes} bytes`);
    let batch: unknown;
    try {
      batch = JSON.parse(text);
    } catch {
      return refuse(Status.BadRequest, ErrorReason.InvalidBatch, 'body is not JSON');
    }
    if (!Array.isArray(batch) || batch.length === 0 || batch.length > maxBatch) {
      return refuse(Status.BadRequest, ErrorReason.InvalidBatch, `body must be a JSON array of 1 to ${maxBatch} frames`);
    }
    const issues = batch.flatMap((frame, index) => (typeof frame === 'string' ? [] : [{ path: [index], message: 'a frame is a string holding one envelope' }]));
    if (issues.length > 0) return refuse(Status.BadRequest, ErrorReason.InvalidBatch, 'every frame must be a string', { issues });
    for (const frame of batch as string[]) socket.connection?.receive(frame);
    return new Response(null, { status: 204, headers: { 'cache-control': 'no-store' } });
  }

  function poll(request: Request, socket: LongPollSocket, sid: string): Promise<Response> {
    const ack = Number(new URL(request.url).searchParams.get('ack') ?? '0');
    if (!Number.isSafeInteger(ack) || ack < 0) return Promise.resolve(refuse(Status.BadRequest, ErrorReason.InvalidBatch, 'ack must be an integer >= 0'));
    socket.connection?.alive();
    socket.ack(ack);
    return new Promise((resolve) => {
      socket.poll(pollTimeoutMs, (result) => {
        if (result.closed !== undefined) store.delete(sid);
        resolve(json(200, pollBody(result)));
      });
      request.signal.addEventListener('abort', () => socket.release(), { once: true });
    });
  }

  return {
    path,
    get size() {
      return store.size;
    },
    async fetch(request) {
      const { pathname } = new URL(request.url);
      const route = pathname === path ? '' : pathname.startsWith(path + '/') ? pathname.slice(path.length) : undefined;
      if (route === undefined) return refuse(Status.NotFound, ErrorReason.UnknownType, 'not a long-poll endpoint');
      if (route === '' && request.method === 'POST') return open(request);
      const found = connectionOf(request);
      if (found instanceof Response) return found;
      const sid = request.headers.get(SESSION_HEADER) as string;
      if (route === '/send' && request.method === 'POST') return send(request, found);
      if (route === '/poll' && request.method === 'GET') return poll(request, found, sid);
      if (route === '' && request.method === 'DELETE') {
        store.delete(sid);
        found.release();
        found.connection?.closed(1000);
        return new Response(null, { status: 204 });
      }
      return refuse(Status.NotFound, ErrorReason.UnknownType, `no ${request.method} ${pathname}`);
    },
    close() {
      clearInterval(sweep);
      sweep = undefined;
      for (const [, socket] of store.entries()) socket.release();
    },
  };
}

