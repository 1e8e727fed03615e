/**
 * The long-poll transport behind the WebSocket API (`addEventListener`, `send`, `close`), for
 * tools written against WebSockets: `@herald/testing`'s tester and conformance suite drive a
 * long-poll endpoint with it. A refused or failed open is reported as an `error` that says why
 * (the transport's connect failure), as a refused upgrade is.
 */
import { longPollTransport } from './long-poll-transport.ts';
import type { TransportConnection } from './transport.ts';

type Listener = (event: any) => void;

/**
 * @example
 * import { connect } from '@herald/testing';
 * const tester = await connect('http://127.0.0.1:9090/lp', { WebSocket: LongPollWebSocket, token });
 */
export class LongPollWebSocket {
  readyState = 0;
  private readonly listeners = new Map<string, Listener[]>();
  private readonly connection: TransportConnection;

  /** `url` is the long-poll endpoint (`http://host/lp`); `protocols` goes in `Herald-Protocol`. */
  constructor(url: string, protocols?: string | string[], init?: { headers?: Record<string, string> }) {
    const protocol = protocols === undefined ? undefined : Array.isArray(protocols) ? protocols.join(', ') : protocols;
    this.connection = longPollTransport({ url, ...(init?.headers === undefined ? {} : { headers: init.headers }), ...(protocol === undefined ? {} : { protocol }) })({
      onOpen: () => {
        this.readyState = 1;
        this.emit('open', {});
      },
      onMessage: (text) => this.emit('message', { data: text }),
      onClose: (code, reason, failure) => {
        if (this.readyState === 0) this.emit('error', { message: failure?.message ?? `long-poll open failed (${code}): ${reason}` });
        this.readyState = 3;
        this.emit('close', { code, reason });
      },
    });
  }

  private emit(type: string, event: unknown): void {
    for (const listener of this.listeners.get(type) ?? []) listener(event);
  }

  addEventListener(type: string, listener: Listener): void {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), listener]);
  }

  send(data: string | Uint8Array): void {
    if (typeof data !== 'string') throw new Error('long-poll carries text frames only');
    this.connection.send(data);
  }

  close(code = 1000, reason = ''): void {
    this.connection.close(code, reason);
  }

  /** Vanishes without telling the server, as a dropped network does. */
  terminate(): void {
    this.connection.close(1006, 'dropped');
  }
}
