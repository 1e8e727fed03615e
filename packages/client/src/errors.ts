import type { Issue, RetryAdvice } from '@herald/core';

/** An error body as the server sends it (its `error` may be an application's own reason). */
export interface ErrorDetails {
  readonly error: string;
  readonly message: string;
  readonly issues?: readonly Issue[];
  readonly retryAfterMs?: number;
}

/** Client-side reasons, next to the server's `ErrorReason`s. */
export const ClientErrorReason = {
  /** No response within the request's timeout. */
  Timeout: 'timeout',
  /** Too many requests queued while offline. */
  QueueFull: 'queue_full',
  /** The client was closed, or stopped after a fatal close code. */
  Closed: 'closed',
  /** The session was lost while the request was in flight; it may or may not have run. */
  UnknownOutcome: 'unknown_outcome',
  /** The frame would exceed the server's `maxMessageBytes`. */
  TooLarge: 'too_large',
  /** Before the first connection: nothing at the URL's path (the upgrade or long-poll open answered 404). Fatal. */
  NotFound: 'not_found',
  /** Before the first connection: the URL does not parse, or its scheme is not `ws:`/`wss:` (`http:`/`https:` for long-poll). Fatal. */
  InvalidUrl: 'invalid_url',
  /** Before the first connection: no WebSocket implementation (Node 20 without `ws`). Fatal. */
  NoWebSocket: 'no_websocket',
  /** Before the first connection: the upgrade was refused with another status (`code`); retried. */
  UpgradeRefused: 'upgrade_refused',
  /** Before the first connection: the connection failed at the network level (refused, reset, unreachable); retried. */
  ConnectionRefused: 'connection_refused',
  /** Before the first connection: no Welcome within `connectTimeoutMs`, with no other cause known; retried. */
  ConnectTimeout: 'connect_timeout',
} as const;

/**
 * A request that did not succeed: `code` is the response's status (or 0 for client-side
 * failures), `reason` the `error` field, `issues` the validation problems.
 *
 * @example
 * try { await client.request('chat.Send', body); }
 * catch (error) { if (error instanceof HeraldRequestError && error.code === 403) showForbidden(); }
 */
export class HeraldRequestError extends Error {
  readonly code: number;
  readonly reason: string;
  readonly issues: readonly Issue[] | undefined;
  readonly retryAfterMs: number | undefined;
  /**
   * When the request failed because the connection closed or could not open: its close code
   * (for a refused upgrade, 4000 + its HTTP status, as PROTOCOL.md §10 maps them).
   */
  readonly closeCode: number | undefined;
  /**
   * What PROTOCOL.md's close-code table advises for `closeCode`: `fatal` when the client gave up
   * (retrying cannot help), `resume` when it keeps reconnecting in the background.
   */
  readonly retry: RetryAdvice | undefined;

  constructor(code: number, body: ErrorDetails, close?: { readonly code: number | undefined; readonly retry: RetryAdvice }) {
    super(body.message);
    this.name = 'HeraldRequestError';
    this.code = code;
    this.reason = body.error;
    this.issues = body.issues;
    this.retryAfterMs = body.retryAfterMs;
    this.closeCode = close?.code;
    this.retry = close?.retry;
  }
}
