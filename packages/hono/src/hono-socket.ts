/**
 * Hono's `WSContext` as the core's `HeraldSocket`. The one place that knows the runtimes'
 * sockets apart: the buffered amount is `bufferedAmount` (Node's `ws`, Deno) or
 * `getBufferedAmount()` (Bun); only `ws` on Node lets the adapter both send an RFC ping and
 * see its pong, so only there are native clients probed with RFC pings; Bun's sockets join
 * native topics; Deno's close lingers (see `close`).
 */
import { nativeTopic, type Connection, type HeraldSocket } from '@herald/core';
import type { WSContext } from 'hono/ws';

interface RawSocket {
  readonly readyState?: number;
  binaryType?: string;
  readonly bufferedAmount?: number;
  getBufferedAmount?(): number;
  ping?(): void;
  on?(event: 'pong', listener: () => void): void;
  subscribe?(topic: string): void;
  unsubscribe?(topic: string): void;
}

/** Bun's server, which Hono hands to handlers as `c.env`: it can publish to a topic natively. */
export interface BunServerLike {
  publish(topic: string, data: string | Uint8Array): number;
  subscriberCount?(topic: string): number;
  upgrade(request: Request, options?: unknown): boolean;
}

export function isBunServer(env: unknown): env is BunServerLike {
  const candidate = env as Partial<BunServerLike> | undefined;
  return typeof candidate?.publish === 'function' && typeof candidate.upgrade === 'function';
}

const OPEN = 1;
const DENO_CLOSE_LINGER_MS = 100;

export class HonoSocket implements HeraldSocket {
  private readonly raw: RawSocket;
  ping?: () => void;
  subscribe?: (topic: string) => void;
  unsubscribe?: (topic: string) => void;
  private readonly lingerMs: number;

  /**
   * `nativeTopics`: the server publishes natively (Bun), so sockets join topics there (those of
   * a binary subprotocol, `binaryProtocol`, join its topics of their own).
   */
  constructor(
    private readonly ws: WSContext,
    nativeTopics: boolean,
    binaryProtocol: string | undefined = undefined,
  ) {
    const raw = (this.raw = (ws.raw ?? {}) as RawSocket);
    this.lingerMs = 'Deno' in globalThis ? DENO_CLOSE_LINGER_MS : 0;
    // A Blob can only be read asynchronously, which would reorder frames (Deno's default).
    if (raw.binaryType === 'blob') raw.binaryType = 'arraybuffer';
    if (nativeTopics && typeof raw.subscribe === 'function' && typeof raw.unsubscribe === 'function') {
      const topicOf = (topic: string) => (binaryProtocol === undefined ? topic : nativeTopic(binaryProtocol, topic));
      this.subscribe = (topic) => raw.subscribe?.(topicOf(topic));
      this.unsubscribe = (topic) => raw.unsubscribe?.(topicOf(topic));
    }
  }

  /** Wires RFC pongs to the connection where the runtime exposes them (Node's `ws`). */
  observePongs(connection: Connection): void {
    const raw = this.raw;
    if (typeof raw.ping !== 'function' || typeof raw.on !== 'function') return;
    raw.on('pong', () => connection.alive());
    this.ping = () => raw.ping?.();
  }

  private get open(): boolean {
    return (this.raw.readyState ?? this.ws.readyState) === OPEN;
  }

  send(frame: string | Uint8Array): void {
    if (this.open) this.ws.send(frame as string | Uint8Array<ArrayBuffer>);
  }

  close(code: number, reason: string): void {
    if (!this.open) return;
    if (this.lingerMs === 0) return this.ws.close(code, reason);
    // Deno resets a connection closed with unread input, and the reset discards what the peer
    // has not read yet (the Goodbye among it): read the backlog away first.
    setTimeout(() => {
      if (this.open) this.ws.close(code, reason);
    }, this.lingerMs);
  }

  get bufferedAmount(): number {
    const raw = this.raw;
    if (typeof raw.bufferedAmount === 'number') return raw.bufferedAmount;
    return typeof raw.getBufferedAmount === 'function' ? raw.getBufferedAmount() : 0;
  }
}
