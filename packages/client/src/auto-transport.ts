/**
 * WebSocket first, long-poll when WebSockets do not get through, and back to WebSocket when
 * they do again. A WebSocket attempt that closes before bringing a single frame (refused
 * upgrade, a proxy without Upgrade support, silence for `helloTimeoutMs`)
 * switches to long-poll, remembered for `rememberMs`; while on long-poll a WebSocket probe runs
 * every `probeEveryMs`, and when one brings a frame the long-poll connection is closed so the
 * client reconnects over WebSocket. The session is resumed across every switch, so nothing is
 * lost or doubled.
 */
import type { WireCodec } from '@herald/core';
import { invalidWebSocketUrl } from './connect-failure.ts';
import { longPollTransport } from './long-poll-transport.ts';
import { failedAttempt, webSocketTransport, type Transport, type TransportConnection, type WebSocketConstructor } from './transport.ts';

export interface AutoTransportOptions {
  /** The WebSocket URL, e.g. `wss://example.com/ws`. */
  readonly url: string;
  /** The long-poll URL (default: the same origin, path `/lp`). */
  readonly longPollUrl?: string;
  readonly WebSocket?: WebSocketConstructor;
  readonly headers?: Record<string, string>;
  /** The WebSocket's binary subprotocol (`msgpack()` from `@herald/client/msgpack`); long-poll stays JSON. */
  readonly codec?: WireCodec;
  /** How long to stay on long-poll after WebSocket failed (default 5 min). */
  readonly rememberMs?: number;
  /** How often to try WebSocket again while on long-poll (default 60 s). */
  readonly probeEveryMs?: number;
  /** A WebSocket that brings no frame within this long counts as failed (default 4 s). */
  readonly helloTimeoutMs?: number;
  /** Told which transport each connection uses. */
  readonly onTransport?: (kind: 'websocket' | 'long-poll') => void;
}

/** Close code when the client leaves long-poll for a WebSocket that works again (resumable). */
const UPGRADING = 1001;

/**
 * The long-poll URL `autoTransport` uses by default: the WebSocket URL's origin, path `/lp`, over
 * TLS when the WebSocket is (`wss:`, or `https:` and a relative URL on an `https:` page).
 *
 * @example
 * defaultLongPollUrl('wss://example.com/ws'); // 'https://example.com/lp'
 */
export function defaultLongPollUrl(url: string): string {
  const parsed = new URL(url, (globalThis as { location?: { href?: string } }).location?.href);
  const secure = parsed.protocol === 'wss:' || parsed.protocol === 'https:';
  return `${secure ? 'https:' : 'http:'}//${parsed.host}/lp`;
}

/**
 * WebSocket with a long-poll fallback. A client that never connected is told why as it would be
 * on either transport alone: a bad URL at once; a refusal at the WebSocket path (404, 401, 403)
 * moves on to long-poll, and the same refusal there stops the client; a transient failure
 * (nothing listening) rejects its requests within `connectTimeoutMs` while it keeps trying.
 *
 * @example
 * const client = createClient({ transport: autoTransport({ url: 'wss://example.com/ws' }), token });
 */
export function autoTransport(options: AutoTransportOptions): Transport {
  // Neither transport could start, and a long-poll URL derived from it would be nonsense.
  const invalid = invalidWebSocketUrl(options.url);
  if (invalid !== undefined) return (events) => failedAttempt(events, invalid);
  const rememberMs = options.rememberMs ?? 5 * 60_000;
  const probeEveryMs = options.probeEveryMs ?? 60_000;
  const socketOptions = {
    url: options.url,
    ...(options.WebSocket === undefined ? {} : { WebSocket: options.WebSocket }),
    ...(options.headers === undefined ? {} : { headers: options.headers }),
    ...(options.codec === undefined ? {} : { codec: options.codec }),
  };
  const webSocket = webSocketTransport(socketOptions);
  const longPoll = longPollTransport({ url: options.longPollUrl ?? defaultLongPollUrl(options.url), ...(options.headers === undefined ? {} : { headers: options.headers }) });
  let longPollUntil = 0;

  /** Opens a throwaway WebSocket; calls `works` if a frame comes back. */
  const probe = (works: () => void): void => {
    let connection: TransportConnection | undefined;
    let heard = false;
    connection = webSocket({
      onOpen: () => {},
      onMessage: () => {
        if (heard) return;
        heard = true;
        connection?.close(1000, 'probe done');
        works();
      },
      onClose: () => {},
    });
  };

  return (events) => {
    if (Date.now() < longPollUntil) {
      options.onTransport?.('long-poll');
      let timer: ReturnType<typeof setInterval> | undefined = undefined;
      const current = longPoll({
        onOpen: () => events.onOpen(),
        onMessage: (text) => events.onMessage(text),
        onClose: (code, reason, failure) => {
          clearInterval(timer);
          if (failure === undefined) events.onClose(code, reason);
          else events.onClose(code, reason, failure);
        },
      });
      timer = setInterval(
        () =>
          probe(() => {
            longPollUntil = 0;
            clearInterval(timer);
            current.close(UPGRADING, 'websocket works again');
          }),
        probeEveryMs,
      );
      return current;
    }
    options.onTransport?.('websocket');
    let heard = false;
    const connection = webSocket({
      onOpen: () => events.onOpen(),
      onMessage: (text) => {
        heard = true;
        clearTimeout(hello);
        events.onMessage(text);
      },
      onClose: (code, reason, failure) => {
        clearTimeout(hello);
        if (!heard) longPollUntil = Date.now() + rememberMs;
        // A refusal that would stop the client (a 404 at the WebSocket path, no WebSocket at all)
        // is not final here: the next attempt goes over long-poll, which reports its own.
        if (failure === undefined || failure.fatal) events.onClose(code, reason);
        else events.onClose(code, reason, failure);
      },
    });
    // A proxy may accept the upgrade and then relay nothing: give up on silence too.
    const hello = setTimeout(() => connection.close(4000, 'no frame from the server'), options.helloTimeoutMs ?? 4000);
    return connection;
  };
}
