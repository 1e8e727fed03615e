import type { Envelope } from '../envelope.ts';
import type { Herald } from '../server.ts';
import type { Connection } from '../session.ts';
import type { HeraldSocket } from '../socket.ts';
import type { UpgradeRequest } from '../upgrade.ts';
import type { WireCodec } from '../wire-codec.ts';

/** How a `MemorySocket` was closed. */
export interface CloseEvent {
  readonly code: number;
  readonly reason: string;
}

/**
 * A socket with no network under it: what the server sends is kept as parsed envelopes,
 * and `bufferedAmount` can be set to simulate a slow reader.
 */
export class MemorySocket implements HeraldSocket {
  readonly received: Envelope[] = [];
  /** The frame type of each of `received`. */
  readonly frameTypes: Array<'text' | 'binary'> = [];
  closedWith: CloseEvent | undefined;
  bufferedAmount = 0;
  connection: Connection | undefined;

  /** `codec`: the socket reads binary frames with it (a connection of its subprotocol). */
  constructor(private readonly codec: WireCodec | undefined = undefined) {}

  send(frame: string | Uint8Array): void {
    if (this.closedWith !== undefined) return;
    if (typeof frame === 'string') this.received.push(JSON.parse(frame) as Envelope);
    else if (this.codec === undefined) throw new Error('a binary frame on a herald.v1 socket');
    else this.received.push(this.codec.decode(frame) as Envelope);
    this.frameTypes.push(typeof frame === 'string' ? 'text' : 'binary');
  }

  close(code: number, reason: string): void {
    if (this.closedWith !== undefined) return;
    this.closedWith = { code, reason };
    queueMicrotask(() => this.connection?.closed(code));
  }

  /** Sends a frame (an envelope, or raw text or bytes) to the server; an envelope in the socket's codec when it has one. */
  deliver(frame: Envelope | Record<string, unknown> | string | Uint8Array): void {
    if (this.closedWith !== undefined) throw new Error('socket is closed');
    if (typeof frame === 'string' || frame instanceof Uint8Array) this.connection?.receive(frame);
    else this.connection?.receive(this.codec === undefined ? JSON.stringify(frame) : this.codec.encode(frame));
  }

  /** The network dropped: the server sees the close, nothing is sent to it again. */
  drop(code = 1006): void {
    if (this.closedWith !== undefined) return;
    this.closedWith = { code, reason: 'dropped' };
    this.connection?.closed(code);
  }
}

/** Headers of an upgrade as a native client sends them. */
export function upgradeRequest(headers: Record<string, string> = {}): UpgradeRequest {
  const all = new Headers({ host: 'localhost', 'sec-websocket-protocol': 'herald.v1', ...headers });
  return { url: 'ws://localhost/ws', headers: all };
}

/**
 * Connects a `MemorySocket` to a server through the same upgrade path adapters use.
 *
 * @example
 * const socket = await connectMemory(herald, { authorization: 'Bearer t1' });
 * socket.deliver({ kind: 'req', id: '1', type: 'chat.Send', body: { text: 'hi' } });
 */
export async function connectMemory(herald: Herald<any>, headers: Record<string, string> = {}): Promise<MemorySocket> {
  const socket = new MemorySocket();
  const decision = await herald.upgrade(upgradeRequest(headers));
  if (!decision.ok) {
    herald.reject(socket, decision);
    return socket;
  }
  socket.connection = herald.open(socket, decision);
  return socket;
}
