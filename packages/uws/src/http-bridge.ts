/**
 * Serves an `HttpExchange` handler (the long-poll transport's `handle`) on uWS routes straight
 * from uWS's own request objects: no `Request`, `Headers`, `AbortController` or `Response` per
 * request, which is most of what a fetch bridge costs on Node. Headers are read from the live
 * request while the route handler runs, the body is taken from `onData` (decoded in place when
 * it comes in one chunk), and the answer is written inside `cork`.
 */
import { STATUS_CODES } from 'node:http';
import type { HttpExchange } from '@herald/core';
import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';

const statusLines = new Map<number, string>();

function statusLine(status: number): string {
  let line = statusLines.get(status);
  if (line === undefined) statusLines.set(status, (line = `${status} ${STATUS_CODES[status] ?? 'Unknown'}`));
  return line;
}

const utf8 = new TextDecoder();

/**
 * Answers given outside this exchange's own uWS callback (a held poll woken by another
 * connection's send, an open after its async upgrade). While uWS dispatches to one socket it
 * keeps that socket corked, and `cork` on any other socket then silently writes uncorked: one
 * syscall (and one TCP segment) per status line, header name, colon and value. So such answers
 * wait for `setImmediate`, after uWS has returned to the loop, and leave corked, one write each.
 */
const deferred: Array<{ exchange: UwsExchange; status: number; headers: Readonly<Record<string, string>>; body: string }> = [];

function flushDeferred(): void {
  for (const { exchange, status, headers, body } of deferred.splice(0)) exchange.write(status, headers, body);
}

class UwsExchange implements HttpExchange {
  readonly method: string;
  readonly path: string;
  readonly query: string;
  /** Only valid while the route handler runs; uWS reuses it afterwards. */
  request: HttpRequest | undefined;
  /** True while uWS runs this exchange's own callback (route or body), with its socket corked. */
  dispatching = true;
  private aborted = false;
  private answered = false;
  /** The body was refused unread: the connection is closed after the answer. */
  private refused = false;
  private abortListener: (() => void) | undefined;

  constructor(
    private readonly res: HttpResponse,
    req: HttpRequest,
  ) {
    this.request = req;
    this.method = req.getMethod().toUpperCase();
    this.path = req.getUrl();
    this.query = req.getQuery() ?? '';
    res.onAborted(() => {
      this.aborted = true;
      this.abortListener?.();
    });
  }

  header(name: string): string | null {
    const request = this.request;
    if (request === undefined) throw new Error('@herald/uws: request headers were read after the route handler returned');
    const value = request.getHeader(name);
    // uWS answers '' for an absent header; an empty header that is present reads the same.
    return value === '' ? null : value;
  }

  readBody(limit: number, done: (text: string | undefined) => void): void {
    if (Number(this.header('content-length') ?? '0') > limit) {
      this.refused = true;
      return done(undefined);
    }
    let chunks: Uint8Array[] | undefined;
    let size = 0;
    this.res.onData((chunk, isLast) => {
      if (this.refused) return;
      size += chunk.byteLength;
      if (size > limit) {
        this.refused = true;
        return this.dispatch(done, undefined);
      }
      if (isLast && chunks === undefined) return this.dispatch(done, utf8.decode(new Uint8Array(chunk)));
      (chunks ??= []).push(new Uint8Array(chunk.slice(0)));
      if (!isLast) return;
      const body = new Uint8Array(size);
      let at = 0;
      for (const part of chunks) {
        body.set(part, at);
        at += part.byteLength;
      }
      this.dispatch(done, utf8.decode(body));
    });
  }

  private dispatch(done: (text: string | undefined) => void, text: string | undefined): void {
    this.dispatching = true;
    try {
      done(text);
    } catch {
      this.fail();
    } finally {
      this.dispatching = false;
    }
  }

  onAbort(listener: () => void): void {
    this.abortListener = listener;
  }

  respond(status: number, headers: Readonly<Record<string, string>>, body: string): void {
    if (this.answered || this.aborted) return;
    this.answered = true;
    if (this.dispatching) return this.write(status, headers, body);
    if (deferred.push({ exchange: this, status, headers, body }) === 1) setImmediate(flushDeferred);
  }

  write(status: number, headers: Readonly<Record<string, string>>, body: string): void {
    if (this.aborted) return;
    const res = this.res;
    res.cork(() => {
      res.writeStatus(statusLine(status));
      for (const name in headers) res.writeHeader(name, headers[name] as string);
      res.end(body, this.refused);
    });
  }

  /** A handler that threw: 500, unless it already answered. */
  fail(): void {
    this.respond(500, { 'content-type': 'application/json' }, JSON.stringify({ error: 'internal', message: 'internal error' }));
  }
}

/**
 * Routes `pattern` (e.g. `/lp` and `/lp/*`) of a uWS app to an `HttpExchange` handler, such
 * as the long-poll transport's `handle`. For fetch-style handlers, use `attachFetch`.
 *
 * @example
 * const longPoll = createLongPollHandler(herald);
 * attachHttp(app, '/lp', longPoll.handle);
 * attachHttp(app, '/lp/*', longPoll.handle);
 */
export function attachHttp(app: TemplatedApp, pattern: string, handle: (exchange: HttpExchange) => void): void {
  app.any(pattern, (res: HttpResponse, req: HttpRequest) => {
    const exchange = new UwsExchange(res, req);
    try {
      handle(exchange);
    } catch {
      exchange.fail();
    } finally {
      exchange.request = undefined;
      exchange.dispatching = false;
    }
  });
}
