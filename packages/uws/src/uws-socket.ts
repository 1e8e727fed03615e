/**
 * A uWS WebSocket as the core's `HeraldSocket`. uWS corks a socket while one of its own
 * callbacks runs; frames for it then go straight out. Frames produced anywhere else (after an
 * `await` in a handler, a fan-out to other sockets) are queued and written at the end of the
 * tick inside one `cork`, so everything a tick produces for a socket leaves in one write.
 */
import { CloseCode, nativeTopic } from '@herald/core';
import type { Connection, HeraldSocket, UpgradeDecision } from '@herald/core';
import type { WebSocket } from 'uWebSockets.js';
import type { InFlight } from './in-flight.ts';

/**
 * What Herald keeps on each uWS socket. uWS copies these properties onto its socket object,
 * which has no room for them in the object itself: V8 keeps them in a property array grown
 * three slots at a time, so three properties, all there from the upgrade on, are the most that
 * fit in the smallest one.
 */
export interface UserData {
  /** The upgrade's outcome, until the socket opens (then let go). */
  decision: UpgradeDecision | undefined;
  socket: UwsSocket | undefined;
  connection: Connection | undefined;
}

/** What every socket of one attachment and encoding shares: one field on each socket rather than four. */
export interface SocketShared {
  /** The core's high-water mark: above it, the core holds frames back until told of a drain. */
  readonly highWaterMark: number;
  /**
   * Bytes past which a socket is closed with 4507 (below uWS's `maxBackpressure`, leaving
   * room for the Goodbye and the close frame, so the client is told rather than cut off).
   */
  readonly closeAbove: number;
  /** The app's count of what is in flight, which each socket is part of until it closes (`in-flight.ts`). */
  readonly inFlight: InFlight;
  /** The binary subprotocol of these sockets, if they negotiated one: their native topics are their own. */
  readonly binaryProtocol: string | undefined;
}

/** uWS `send` result when the frame was dropped for exceeding `maxBackpressure`. */
const DROPPED = 2;

let corked: UwsSocket | undefined;
const pending = new Set<UwsSocket>();
let scheduled = false;

/** Writes every queued frame; runs once per tick, and before a native publish. */
export function flushPending(): void {
  scheduled = false;
  const sockets = [...pending];
  pending.clear();
  for (const socket of sockets) socket.flush();
}

/** Runs a uWS callback of `socket`'s: frames for it are written directly (uWS has corked it). */
export function inCallback(socket: UwsSocket | undefined, callback: () => void): void {
  const outer = corked;
  corked = socket;
  try {
    socket?.flush();
    callback();
  } finally {
    corked = outer;
  }
}

/** `inCallback` for the message path, without a closure per message. */
export function receiveIn(socket: UwsSocket | undefined, connection: Connection, frame: string | Uint8Array): void {
  const outer = corked;
  corked = socket;
  try {
    socket?.flush();
    connection.receive(frame);
  } finally {
    corked = outer;
  }
}

/** Tells a connection its send buffer drained, as a callback of its socket. */
export function drainedIn(socket: UwsSocket | undefined, connection: Connection | undefined): void {
  if (connection === undefined) return;
  const outer = corked;
  corked = socket;
  try {
    socket?.flush();
    connection.drained();
  } finally {
    corked = outer;
  }
}

export class UwsSocket implements HeraldSocket {
  closed = false;
  private queue: Array<string | Uint8Array> | null = null;
  private queuedBytes = 0;

  constructor(
    private readonly ws: WebSocket<UserData>,
    private readonly shared: SocketShared,
  ) {}

  send(frame: string | Uint8Array): void {
    if (this.closed) return;
    if (corked === this) {
      this.write(frame);
      return;
    }
    (this.queue ??= []).push(frame);
    this.queuedBytes += frame.length;
    pending.add(this);
    if (!scheduled) {
      scheduled = true;
      queueMicrotask(flushPending);
    }
  }

  /**
   * Writes queued frames inside one cork. Queued bytes count towards `bufferedAmount`, so the
   * core may have held frames back because of them; if uWS then takes everything without
   * backpressure it never fires `drain`, and the core is told here instead.
   */
  flush(): void {
    const queue = this.queue;
    if (queue === null) return;
    const highWaterMark = this.shared.highWaterMark;
    const heldBack = this.bufferedAmount > highWaterMark;
    this.queue = null;
    this.queuedBytes = 0;
    if (this.closed) return;
    this.ws.cork(() => {
      for (const frame of queue) if (!this.closed) this.write(frame);
      if (heldBack && !this.closed && this.ws.getBufferedAmount() <= highWaterMark) drainedIn(this, this.ws.getUserData().connection);
    });
  }

  /**
   * A frame that would push the buffer past `closeAbove` closes the socket with the resumable
   * 4507 instead (the session keeps it for the resume); one uWS still drops is treated alike.
   */
  private write(frame: string | Uint8Array): void {
    if (this.ws.getBufferedAmount() + frame.length > this.shared.closeAbove || this.ws.send(frame, typeof frame !== 'string') === DROPPED) {
      this.close(CloseCode.SlowConsumer, 'slow consumer: send buffer full');
    }
  }

  close(code: number, reason: string): void {
    if (this.closed) return;
    this.flush();
    if (this.closed) return;
    this.closed = true;
    this.ws.end(code, reason);
  }

  get bufferedAmount(): number {
    return this.closed ? 0 : this.ws.getBufferedAmount() + this.queuedBytes;
  }

  ping(): void {
    if (!this.closed) this.ws.ping();
  }

  subscribe(topic: string): void {
    if (!this.closed) this.ws.subscribe(this.topicOf(topic));
  }

  unsubscribe(topic: string): void {
    if (!this.closed) this.ws.unsubscribe(this.topicOf(topic));
  }

  private topicOf(topic: string): string {
    const protocol = this.shared.binaryProtocol;
    return protocol === undefined ? topic : nativeTopic(protocol, topic);
  }
}
