/**
 * Serves an `HttpExchange` handler (the long-poll transport's `handle`) on uWS routes straight
 * from uWS's own request objects: no `Request`, `Headers`, `AbortController` or `Response` per
 * request, which is most of what a fetch bridge costs on Node. Headers are read from the live
 * request while the route handler runs, the body is taken from `onData` (decoded in place when
 * it comes in one chunk), and the answer is written inside `cork` with one call for the head.
 */
import { STATUS_CODES } from 'node:http';
import type { HttpExchange } from '@herald/core';
import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import { begin } from './in-flight.ts';

const textDecoder = new TextDecoder();

type HeaderMap = Readonly<Record<string, string>>;

/**
 * The status line and headers as one string for `writeStatus`, which writes it verbatim: one
 * call into uWS instead of one per header. Cached per headers object, as a handler answers
 * with a few constant ones.
 */
const heads = new WeakMap<HeaderMap, Map<number, string>>();

function head(status: number, headers: HeaderMap): string {
  let byStatus = heads.get(headers);
  if (byStatus === undefined) heads.set(headers, (byStatus = new Map()));
  let text = byStatus.get(status);
  if (text === undefined) {
    text = `${status} ${STATUS_CODES[status] ?? 'Unknown'}`;
    for (const name in headers) {
      const value = headers[name] as string;
      if (/[\r\n]/.test(name + value)) throw new Error(`@herald/uws: header ${JSON.stringify(name)} holds a line break`);
      text += `\r\n${name}: ${value}`;
    }
    byStatus.set(status, text);
  }
  return text;
}

const utf8 = new TextDecoder();

/** uWS gives methods in lower case; the usual ones are mapped without a new string each time. */
const METHODS: ReadonlyMap<string, string> = new Map(['get', 'post', 'delete', 'put', 'head', 'options', 'patch'].map((m) => [m, m.toUpperCase()]));

/**
 * Answers given outside this exchange's own uWS callback (a held poll woken by another
 * connection's send, an open after its async upgrade). While uWS dispatches to one socket it
 * keeps that socket corked, and `cork` on any other socket then silently writes uncorked: one
 * syscall (and one TCP segment) per status line, header name, colon and value. So such answers
 * wait for `setImmediate`, after uWS has returned to the loop, and leave corked, one write each.
 */
const deferred: UwsExchange[] = [];

function flushDeferred(): void {
  for (const exchange of deferred.splice(0)) exchange.write();
}

/** The exchange `writeCorked` answers (a module slot, so `cork` needs no closure per answer). */
let corked: UwsExchange | undefined;

function writeCorked(): void {
  corked?.writeNow();
}

class UwsExchange implements HttpExchange {
  readonly method: string;
  readonly path: string;
  /** Only valid while the route handler runs; uWS reuses it afterwards. */
  request: HttpRequest | undefined;
  /** True while uWS runs this exchange's own callback (route or body), with its socket corked. */
  dispatching = true;
  private aborted = false;
  private answered = false;
  /** The body was refused unread: the connection is closed after the answer. */
  private refused = false;
  private abortListener: (() => void) | undefined;
  /** Status line and headers, then body, of the answer once given. */
  private answer = '';
  private body = '';

  constructor(
    private readonly res: HttpResponse,
    req: HttpRequest,
    /** Ends this request's count in flight, once its answer is written or it is aborted. */
    private readonly ended: () => void,
  ) {
    this.request = req;
    const method = req.getMethod();
    this.method = METHODS.get(method) ?? method.toUpperCase();
    this.path = req.getUrl();
    res.onAborted(() => {
      this.aborted = true;
      ended();
      this.abortListener?.();
    });
  }

  /** Read from the live request, like headers: only a poll needs it. */
  get query(): string {
    return this.live().getQuery() ?? '';
  }

  /** Read only when asked (a long-poll open), from the socket, which outlives the request. */
  get remoteAddress(): string {
    return textDecoder.decode(this.res.getRemoteAddressAsText());
  }

  /** Empty unless the peer opened with a PROXY protocol v2 header (see `UpgradeRequest.proxiedAddress`). */
  get proxiedAddress(): string {
    return textDecoder.decode(this.res.getProxiedRemoteAddressAsText());
  }

  header(name: string): string | null {
    const value = this.live().getHeader(name);
    // uWS answers '' for an absent header; an empty header that is present reads the same.
    return value === '' ? null : value;
  }

  private live(): HttpRequest {
    if (this.request === undefined) throw new Error('@herald/uws: the request was read after the route handler returned');
    return this.request;
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

  respond(status: number, headers: HeaderMap, body: string): void {
    if (this.answered || this.aborted) return;
    this.answered = true;
    this.answer = head(status, headers);
    this.body = body;
    // In its own callback the socket is corked already.
    if (this.dispatching) return this.writeNow();
    if (deferred.push(this) === 1) setImmediate(flushDeferred);
  }

  /** Writes a deferred answer inside `cork`. */
  write(): void {
    if (this.aborted) return;
    corked = this;
    this.res.cork(writeCorked);
    corked = undefined;
  }

  writeNow(): void {
    const res = this.res.writeStatus(this.answer);
    // A HEAD answer is the head only: a body would be read as the next answer on the connection.
    // This uWS build's `endWithoutBody` takes no arguments (with any it never answers), so it goes
    // without `Content-Length`; and a HEAD has no body to refuse, so it is never `refused`.
    if (this.method === 'HEAD') res.endWithoutBody();
    else res.end(this.body, this.refused);
    this.ended();
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
    const exchange = new UwsExchange(res, req, begin(app));
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
