/**
 * One HTTP request and its answer, as a plain-HTTP transport (long-poll) needs them, whatever
 * serves them: a fetch `Request`/`Response` pair (Hono, Bun, Deno) or a server's own request
 * objects (uWS, without building Web objects per request). Like `HeraldSocket` for WebSocket:
 * the adapter maps its runtime onto this shape, the transport never sees the runtime.
 */
export interface HttpExchange {
  /** Upper-case method (`GET`, `POST`, …). */
  readonly method: string;
  /** The path, without the query string. */
  readonly path: string;
  /** The query string without `?` (`''` when there is none); like headers, read it before the handler first returns. */
  readonly query: string;
  /**
   * A request header by lower-case name, `null` when absent. Read headers synchronously,
   * before the handler first returns: servers such as uWS reuse the request afterwards.
   */
  header(name: string): string | null;
  /** The peer's IP address as text, when the server knows it (for the per-address open limit, with `trustProxy`). */
  readonly remoteAddress?: string | undefined;
  /** The source address of a PROXY protocol header the peer sent, where the server reads one (uWS). */
  readonly proxiedAddress?: string | undefined;
  /**
   * Reads the whole body as UTF-8 text; `done` gets `undefined` when it is larger than `limit`
   * bytes (the exchange then closes the connection after the answer, as the rest is unread).
   * Call synchronously, before the handler first returns.
   */
  readBody(limit: number, done: (text: string | undefined) => void): void;
  /** Calls `listener` once if the client goes away before the answer. */
  onAbort(listener: () => void): void;
  /** Answers; once only, and ignored after an abort. `body` is text (JSON); `''` for none. */
  respond(status: number, headers: Readonly<Record<string, string>>, body: string): void;
}
