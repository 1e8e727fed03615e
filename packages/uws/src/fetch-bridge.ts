/**
 * Serves a fetch-style handler (`Request` → `Response`) on uWS routes, on the same port as the
 * WebSocket endpoint (the AsyncAPI docs, say). Headers are copied before any await, the body is
 * collected up to a limit (413 past it), an aborted request aborts the `Request`'s signal, and
 * the answer is written inside `cork`, from the loop. The long-poll transport has a faster
 * path that builds no fetch objects: `attachHttp`.
 */
import { STATUS_CODES } from 'node:http';
import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import { begin } from './in-flight.ts';

export interface FetchBridgeOptions {
  /** Largest request body accepted (default 4 MiB); larger ones are answered 413. */
  readonly maxBodyBytes?: number;
}

const NO_BODY = new Set(['GET', 'HEAD', 'DELETE', 'OPTIONS']);

function statusLine(status: number): string {
  return `${status} ${STATUS_CODES[status] ?? 'Unknown'}`;
}

/** 413 in the shape of every Herald error body, then the connection is closed. */
function tooLarge(res: HttpResponse, limit: number, ended: () => void): void {
  const body = JSON.stringify({ error: 'too_large', message: `body exceeds ${limit} bytes` });
  res.cork(() => res.writeStatus(statusLine(413)).writeHeader('content-type', 'application/json').end(body, true));
  ended();
}

/**
 * Writes once uWS is back in its loop: an answer that settles while uWS runs another socket's
 * callback would find `cork` unavailable (that socket holds it) and leave in one syscall per
 * status line, header name and value.
 */
function corkSoon(res: HttpResponse, aborted: () => boolean, ended: () => void, write: () => void): void {
  setImmediate(() => {
    if (!aborted()) res.cork(write);
    ended();
  });
}

/** `headOnly` for HEAD: a body would be read as the next answer on the connection. */
async function answer(res: HttpResponse, response: Response, headOnly: boolean, aborted: () => boolean, ended: () => void): Promise<void> {
  const body = response.body === null ? undefined : new Uint8Array(await response.arrayBuffer());
  if (aborted()) return;
  corkSoon(res, aborted, ended, () => {
    res.writeStatus(statusLine(response.status));
    response.headers.forEach((value, name) => {
      if (name !== 'content-length') res.writeHeader(name, value);
    });
    // This uWS build's `endWithoutBody` takes no arguments, so a HEAD answer goes without `Content-Length`.
    if (headOnly) res.endWithoutBody();
    else res.end(body ?? '');
  });
}

/**
 * Routes `pattern` (e.g. `/lp` and `/lp/*`) of a uWS app to a fetch handler.
 *
 * @example
 * const longPoll = createLongPollHandler(herald);
 * attachFetch(app, '/lp', longPoll.fetch);
 * attachFetch(app, '/lp/*', longPoll.fetch);
 */
export function attachFetch(app: TemplatedApp, pattern: string, handler: (request: Request) => Promise<Response>, options: FetchBridgeOptions = {}): void {
  const maxBodyBytes = options.maxBodyBytes ?? 4 * 1024 * 1024;
  app.any(pattern, (res: HttpResponse, req: HttpRequest) => {
    const method = req.getMethod().toUpperCase();
    const headers = new Headers();
    req.forEach((name, value) => headers.append(name, value));
    const query = req.getQuery();
    const url = `http://${headers.get('host') ?? 'localhost'}${req.getUrl()}${query ? `?${query}` : ''}`;
    const controller = new AbortController();
    const ended = begin(app);
    let aborted = false;
    res.onAborted(() => {
      aborted = true;
      ended();
      controller.abort();
    });
    const respond = (body: Uint8Array<ArrayBuffer> | undefined): void => {
      const request = new Request(url, { method, headers, signal: controller.signal, ...(body === undefined ? {} : { body }) });
      handler(request).then(
        (response) => answer(res, response, method === 'HEAD', () => aborted, ended),
        () => {
          if (!aborted) corkSoon(res, () => aborted, ended, () => res.writeStatus(statusLine(500)).end());
        },
      );
    };
    if (NO_BODY.has(method)) return respond(undefined);
    if (Number(headers.get('content-length') ?? '0') > maxBodyBytes) {
      tooLarge(res, maxBodyBytes, ended);
      return;
    }
    const chunks: Uint8Array[] = [];
    let size = 0;
    let refused = false;
    res.onData((chunk: ArrayBuffer, isLast: boolean) => {
      if (refused) return;
      size += chunk.byteLength;
      if (size > maxBodyBytes) {
        refused = true;
        tooLarge(res, maxBodyBytes, ended);
        return;
      }
      chunks.push(new Uint8Array(chunk.slice(0)));
      if (!isLast) return;
      const body = new Uint8Array(new ArrayBuffer(size));
      let at = 0;
      for (const part of chunks) {
        body.set(part, at);
        at += part.byteLength;
      }
      respond(body);
    });
  });
}
