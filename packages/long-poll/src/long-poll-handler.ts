/** What a mounted long-poll endpoint offers its server, whichever store keeps its connections. */
import type { HttpExchange } from '@herald/core';

/**
 * What a long-poll connection drives: the core's `Connection` for a Herald server, or whatever
 * a `LongPollServer` opens (a gateway's relayed session).
 */
export interface LongPollPeer {
  /** A frame the client sent. */
  receive(frame: string): void;
  /** The connection ended: 1000 when the client closed it, 1006 when it went silent past `idleTimeoutMs`. */
  closed(code?: number): void;
  /** The client was heard from (a poll). */
  alive(): void;
  /** Acknowledged frames took the buffer back under the server's `highWaterMark`. */
  drained(): void;
}

/** Where a fetch request came from, as the server knows it: the per-address open limit and the logs key on it (with `trustProxy`). */
export interface RequestPeer {
  readonly remoteAddress?: string | undefined;
  readonly proxiedAddress?: string | undefined;
}

/** A mounted long-poll endpoint. */
export interface LongPollHandler {
  /**
   * Answers a request under `path` (others get 404). A fetch `Request` does not carry the
   * client's address: pass `peer` (as `mountHerald` of `@herald/hono` does) for the open limit.
   */
  fetch(request: Request, peer?: RequestPeer): Promise<Response>;
  /**
   * The same, for servers that give their own request objects rather than fetch ones (uWS:
   * `attachHttp` of `@herald/uws`), so no `Request`/`Response` is built per request.
   */
  handle(exchange: HttpExchange): void;
  /**
   * Stops the sweeps and answers the polls still held, with what there is; resolves once every
   * request it was answering has its answer. Call it after the server's own `close` (which
   * tells each session with its Goodbye), and before closing a shared store's connections.
   */
  close(): Promise<void>;
  readonly path: string;
  /** Open long-poll connections. */
  readonly size: number;
}
