/**
 * How the client reaches a server. The client's logic (auth, requests, resume, keep-alive)
 * only sees this interface, so the long-poll transport plugs in without changing it.
 */
import { PROTOCOL_NAME } from '@herald/core';

/** What a transport reports. */
export interface TransportEvents {
  onOpen(): void;
  onMessage(text: string): void;
  /** Closed, for any reason; 1006 when there was no close frame. */
  onClose(code: number, reason: string): void;
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
  send(data: string): void;
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
}

/**
 * The WebSocket transport, offering the `herald.v1` subprotocol.
 *
 * @example
 * import WebSocket from 'ws'; // Node 20 only
 * const client = createClient({ transport: webSocketTransport({ url, WebSocket }) });
 */
export function webSocketTransport(options: WebSocketTransportOptions): Transport {
  return (events) => {
    const Impl = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (Impl === undefined) throw new Error('@herald/client: no WebSocket in this runtime; pass one (e.g. `ws` on Node 20)');
    const socket = options.headers === undefined ? new Impl(options.url, PROTOCOL_NAME) : new Impl(options.url, PROTOCOL_NAME, { headers: options.headers });
    let closed = false;
    socket.onopen = () => events.onOpen();
    socket.onmessage = (event: { data: unknown }) => {
      // A socket this side closed may still deliver what was in flight: the client has moved on.
      if (!closed && typeof event.data === 'string') events.onMessage(event.data);
    };
    socket.onclose = (event: { code: number; reason: string }) => {
      if (closed) return;
      closed = true;
      events.onClose(event.code, event.reason);
    };
    socket.onerror = () => {};
    return {
      send: (text) => socket.send(text),
      close: (code, reason) => {
        socket.close(code, reason);
        // Report at once: a dead peer may never complete the close handshake.
        if (!closed) {
          closed = true;
          events.onClose(code ?? 1000, reason ?? '');
        }
      },
    };
  };
}
