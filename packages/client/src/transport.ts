/**
 * How the client reaches a server. The client's logic (auth, requests, resume, keep-alive)
 * only sees this interface, so the long-poll transport plugs in without changing it.
 */
import { PROTOCOL_NAME, type WireCodec } from '@herald/core';
import { connectionRefused, invalidWebSocketUrl, noWebSocket, refusedWith, unsupportedSubprotocol, upgradeFailed, type ConnectFailure } from './connect-failure.ts';

/** What a transport reports. */
export interface TransportEvents {
  onOpen(): void;
  /** A frame: JSON text, or the envelope a binary subprotocol's codec decoded. */
  onMessage(frame: string | object): void;
  /**
   * Closed, for any reason; 1006 when there was no close frame. `failure` says why an attempt
   * failed before it opened, when the transport could tell (a refused upgrade, a bad URL).
   */
  onClose(code: number, reason: string, failure?: ConnectFailure): void;
}

/** One open attempt of a transport. */
export interface TransportConnection {
  send(text: string): void;
  close(code?: number, reason?: string): void;
}

/** Opens a connection; called again for every reconnect. */
export type Transport = (events: TransportEvents) => TransportConnection;

/**
 * The WebSocket API the transport needs: the WHATWG one (browsers, Bun, Deno, Node 22+) or
 * `ws` on Node 20. The handlers' event parameters are `never` so that every implementation's
 * own event types fit; the transport reads only `data`, `code` and `reason`.
 */
export interface WebSocketLike {
  /** The subprotocol the server selected, where the implementation exposes it. */
  readonly protocol?: string;
  send(data: string | Uint8Array): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: never) => void) | null;
  onmessage: ((event: never) => void) | null;
  onclose: ((event: never) => void) | null;
  onerror: ((event: never) => void) | null;
}

export type WebSocketConstructor = new (url: string, protocols: string | string[], options?: { headers?: Record<string, string> }) => WebSocketLike;

export interface WebSocketTransportOptions {
  readonly url: string;
  /** Default: the global `WebSocket` (browsers, Bun, Deno, Node 22+); pass `ws` on Node 20. */
  readonly WebSocket?: WebSocketConstructor;
  /** Upgrade headers, for runtimes whose WebSocket sends them (`ws`, Bun); browsers cannot. */
  readonly headers?: Record<string, string>;
  /** Speak a binary subprotocol instead of `herald.v1`: `msgpack()` from `@herald/client/msgpack`. */
  readonly codec?: WireCodec;
}

/** How long the HTTP request that asks why an upgrade failed may take. */
const DIAGNOSE_TIMEOUT_MS = 2000;

/**
 * The WebSocket transport, offering the `herald.v1` subprotocol.
 *
 * An attempt that fails before it opens is reported with its cause (`ConnectFailure`): the
 * HTTP status of a refused upgrade when the implementation names it in its error event (`ws`,
 * Bun, Deno do), a subprotocol the server did not select, a bad URL, no implementation. Where
 * the status is hidden (browsers, Node 22's WebSocket), the transport asks the same URL over
 * HTTP, until its first connection opens: a Herald endpoint answers a plain GET `400` (not a
 * handshake), a wrong path `404`.
 *
 * @example
 * import WebSocket from 'ws'; // Node 20 only
 * const client = createClient({ transport: webSocketTransport({ url, WebSocket }) });
 */
export function webSocketTransport(options: WebSocketTransportOptions): Transport {
  const { url } = options;
  let everOpened = false;
  return (events) => {
    const Impl = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (Impl === undefined) return failedAttempt(events, noWebSocket);
    const invalid = invalidWebSocketUrl(url);
    if (invalid !== undefined) return failedAttempt(events, invalid);
    const codec = options.codec;
    const protocol = codec === undefined ? PROTOCOL_NAME : codec.protocol;
    const socket = options.headers === undefined ? new Impl(url, protocol) : new Impl(url, protocol, { headers: options.headers });
    if (codec !== undefined) (socket as { binaryType?: string }).binaryType = 'arraybuffer';
    let closed = false;
    let opened = false;
    let error: string | undefined;
    const report = (code: number, reason: string, failure?: ConnectFailure): void => {
      if (closed) return;
      closed = true;
      if (failure === undefined) events.onClose(code, reason);
      else events.onClose(code, reason, failure);
    };
    socket.onopen = () => {
      // PROTOCOL.md §2: a 101 that selects no subprotocol, or another, fails the connection (4406).
      if (typeof socket.protocol === 'string' && socket.protocol !== protocol) {
        const failure = unsupportedSubprotocol(url, socket.protocol === '' ? 'selected no subprotocol' : `selected the subprotocol ${socket.protocol}`);
        socket.close(1000, 'subprotocol not acceptable');
        return report(4406, failure.message, failure);
      }
      opened = everOpened = true;
      events.onOpen();
    };
    socket.onmessage = (event: { data: unknown }) => {
      // A socket this side closed may still deliver what was in flight: the client has moved on.
      if (closed) return;
      const data = event.data;
      if (codec === undefined) {
        if (typeof data === 'string') events.onMessage(data);
      } else if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) {
        const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
        let message: unknown;
        try {
          message = codec.decode(bytes);
        } catch {
          return;
        }
        if (typeof message === 'object' && message !== null) events.onMessage(message);
      }
    };
    socket.onclose = (event: { code: number; reason: string }) => {
      if (closed) return;
      if (opened) return report(event.code, event.reason);
      void diagnose(url, error, !everOpened, options.headers).then((failure) => report(event.code, event.reason, failure));
    };
    socket.onerror = (event: { message?: unknown }) => {
      if (typeof event.message === 'string') error = event.message;
    };
    return {
      // The client builds JSON text; a binary subprotocol's frame carries the same envelope.
      send: (text) => socket.send(codec === undefined ? text : codec.encode(JSON.parse(text))),
      close: (code, reason) => {
        socket.close(code, reason);
        // Report at once: a dead peer may never complete the close handshake.
        report(code ?? 1000, reason ?? '');
      },
    };
  };
}

/** An attempt that cannot even start: reported once the client holds the connection. */
export function failedAttempt(events: TransportEvents, failure: ConnectFailure): TransportConnection {
  let closed = false;
  queueMicrotask(() => {
    if (!closed) events.onClose(1006, failure.message, failure);
    closed = true;
  });
  return {
    send: () => {},
    close: (code, reason) => {
      if (!closed) events.onClose(code ?? 1000, reason ?? '');
      closed = true;
    },
  };
}

/**
 * Why an upgrade failed: from the implementation's error message (`ws`: "Unexpected server
 * response: 404", Bun: "Expected 101 status code: 404", Deno: "Invalid status code: 404"), else
 * (while the transport has never opened: later, a failure is a passing one) from a plain HTTP
 * request to the URL.
 */
async function diagnose(url: string, error: string | undefined, probing: boolean, headers: Record<string, string> | undefined): Promise<ConnectFailure> {
  const status = /(?:response|status code):?\s*(\d{3})\b/i.exec(error ?? '')?.[1];
  if (status !== undefined) return refusedWith(Number(status), url);
  if (error !== undefined && /subprotocol|client protocol/i.test(error)) return unsupportedSubprotocol(url, `failed the upgrade (${error})`);
  const probed = probing ? await probe(url, headers) : undefined;
  if (probed === 404 || probed === 401 || probed === 403) return refusedWith(probed, url);
  return probed === undefined ? connectionRefused(url, error) : upgradeFailed(url, probed);
}

/** The status a plain GET to the WebSocket URL gets, or undefined when none came back (or no `fetch`). */
async function probe(url: string, headers: Record<string, string> | undefined): Promise<number | undefined> {
  if (typeof fetch !== 'function') return undefined;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), DIAGNOSE_TIMEOUT_MS);
  try {
    const base = (globalThis as { location?: { href?: string } }).location?.href;
    const target = new URL(url, base);
    target.protocol = target.protocol === 'wss:' ? 'https:' : target.protocol === 'ws:' ? 'http:' : target.protocol;
    const response = await fetch(target, { signal: controller.signal, ...(headers === undefined ? {} : { headers }) });
    await response.body?.cancel();
    return response.status;
  } catch {
    return undefined;
  } finally {
    clearTimeout(timer);
  }
}
