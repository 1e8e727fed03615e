/**
 * Why a connection attempt failed before the server's Welcome, as the transports tell the
 * client. The transports share these descriptions so that the same mistake reads the same over
 * WebSocket and long-poll; the client decides what they mean for its pending requests. Statuses
 * and the server's reasons are written out (the reasons checked against core's type): core's
 * `Status` and `ErrorReason` objects would bring every one of them into the browser bundle.
 */
import { PROTOCOL_NAME, type ErrorReason } from '@herald/core';
import { ClientErrorReason } from './errors.ts';

/** A failed connection attempt, described by the transport that saw it. */
export interface ConnectFailure {
  /** `not_found`, `invalid_token`, `forbidden`, `unsupported_subprotocol`, `invalid_url`, `no_websocket`, `upgrade_refused`, `connection_refused`. */
  readonly reason: string;
  /** The HTTP status that refused the upgrade (or the long-poll open), when the transport learned it. */
  readonly status?: number;
  /** No later attempt at this URL can succeed, so a client that never connected stops. */
  readonly fatal: boolean;
  /** What went wrong and what to do, naming the URL. */
  readonly message: string;
}

/** What a refused upgrade or long-poll open says, by its HTTP status. */
export function refusedWith(status: number, url: string): ConnectFailure {
  switch (status) {
    case 404:
      return { reason: ClientErrorReason.NotFound, status, fatal: true, message: `${url} answered 404 Not Found: no Herald endpoint at this path; check the URL (the adapters serve WebSocket on /ws and long-poll on /lp by default)` };
    case 401:
      return { reason: 'invalid_token' satisfies ErrorReason, status, fatal: true, message: `${url} answered 401 Unauthorized: the credential in the \`Authorization\` header was rejected; pass a valid token in \`headers\`, or leave the header out and give \`token\`` };
    case 403:
      return { reason: 'forbidden' satisfies ErrorReason, status, fatal: true, message: `${url} answered 403 Forbidden: the server does not let this client in (a browser's Origin must be on the server's \`origins\` allow-list)` };
    case 406:
      return unsupportedSubprotocol(url, 'answered 406 Not Acceptable');
    default:
      return { reason: ClientErrorReason.UpgradeRefused, status, fatal: false, message: `${url} answered HTTP ${status} instead of opening a connection; the client keeps retrying` };
  }
}

export function unsupportedSubprotocol(url: string, what: string): ConnectFailure {
  return {
    reason: 'unsupported_subprotocol' satisfies ErrorReason,
    status: 406,
    fatal: true,
    message: `${url} ${what}: it does not speak the subprotocol ${PROTOCOL_NAME}; check that the URL points at a Herald server of a version that does`,
  };
}

/** The server answers HTTP at the URL but the upgrade failed (a proxy without WebSocket support, a non-Herald endpoint). */
export function upgradeFailed(url: string, probed: number): ConnectFailure {
  return { reason: ClientErrorReason.UpgradeRefused, fatal: false, message: `${url} did not accept the WebSocket upgrade (a plain HTTP request there got ${probed}); the client keeps retrying` };
}

export function connectionRefused(url: string, detail: string | undefined): ConnectFailure {
  return {
    reason: ClientErrorReason.ConnectionRefused,
    fatal: false,
    message: `could not connect to ${url}${detail === undefined || detail === '' ? '' : ` (${detail})`}: is the server running and listening at this address? The client keeps retrying`,
  };
}

export const noWebSocket: ConnectFailure = {
  reason: ClientErrorReason.NoWebSocket,
  fatal: true,
  message: "no WebSocket implementation in this runtime: pass `WebSocket` from the 'ws' package in Node 20 (`createClient({ url, WebSocket })`), or use Node 22+, Bun, Deno or a browser",
};

/**
 * Checks a WebSocket URL the way `new WebSocket` would, relative to the page in a browser:
 * `ws:`, `wss:`, or `http:`/`https:` (which WebSocket implementations map onto them).
 */
export function invalidWebSocketUrl(url: string): ConnectFailure | undefined {
  return invalidUrl(url, ['ws:', 'wss:', 'http:', 'https:'], 'WebSocket', 'ws://host:port/path (wss:// over TLS)');
}

/** Checks a long-poll URL the way `fetch` would, relative to the page in a browser: `http:` or `https:`. */
export function invalidLongPollUrl(url: string): ConnectFailure | undefined {
  return invalidUrl(url, ['http:', 'https:'], 'long-poll', 'http://host:port/lp (https:// over TLS)');
}

function invalidUrl(url: string, schemes: readonly string[], what: string, example: string): ConnectFailure | undefined {
  const base = (globalThis as { location?: { href?: string } }).location?.href;
  let why: string;
  try {
    const { protocol } = new URL(url, base);
    if (schemes.includes(protocol)) return undefined;
    // `localhost:9090/ws` parses, with `localhost:` as its scheme.
    why = /^[a-z0-9.-]+:\d/i.test(url) ? 'it has no scheme' : `its scheme is ${protocol}`;
  } catch {
    why = 'it does not parse as a URL';
  }
  return { reason: ClientErrorReason.InvalidUrl, fatal: true, message: `invalid ${what} URL ${JSON.stringify(url)}: ${why}; write ${example}` };
}
