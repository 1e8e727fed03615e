/**
 * One proxied connection of the fault proxy: two pipes (client → upstream, upstream → client),
 * each a queue of byte pieces released in order by one timer. Latency and the slicer decide
 * when a piece may leave, the bandwidth when the next may; a frozen link releases nothing and
 * its sockets stay open. Queues are bounded: past the bound the source socket is paused, so
 * TCP backpressure reaches the sender instead of memory growing.
 */
import type { Socket } from 'node:net';

/** Faults of one direction of every link. */
export interface DirectionFaults {
  /** Added to every chunk before it is passed on (default 0). */
  readonly latencyMs?: number;
  /** Latency varies by up to ± this much per chunk, never reordering bytes (default 0). */
  readonly jitterMs?: number;
  /** Bytes per second per link and direction (default: unlimited). */
  readonly bandwidthBytesPerSecond?: number;
  /** Cuts chunks into small pieces passed on one after another, as a slow network would. */
  readonly slicer?: SlicerFaults;
}

/** Toxiproxy's slicer: pieces of `averageBytes` ± `sizeVariationBytes`, `delayUs` apart. */
export interface SlicerFaults {
  readonly averageBytes: number;
  readonly sizeVariationBytes?: number;
  readonly delayUs?: number;
}

/** `upstream` is client → server, `downstream` server → client. */
export type Direction = 'upstream' | 'downstream';

/** What a link filter sees of a link. */
export interface FaultLink {
  /** 1 for the proxy's first link, then counting up. */
  readonly id: number;
  /** The client's address and port, as the proxy sees them (the port the client connected from). */
  readonly clientAddress: string;
  readonly clientPort: number;
  /** `Date.now()` when the client connected. */
  readonly openedAt: number;
  /**
   * The first bytes the client sent (up to `HEAD_BYTES`, as latin1): an HTTP request line and
   * its headers, say, so a filter can pick the links of one path or one client.
   */
  readonly head: string;
  readonly frozen: boolean;
  /** Bytes passed on so far, client → server and server → client. */
  readonly bytesUpstream: number;
  readonly bytesDownstream: number;
}

/** What a link reads from its proxy whenever it moves bytes, so changes apply at once. */
export interface LinkContext {
  faults(direction: Direction): Required<Omit<DirectionFaults, 'slicer'>> & { readonly slicer: SlicerFaults | undefined };
  readonly random: () => number;
  /** Bytes a pipe queues before it pauses its source. */
  readonly maxQueuedBytes: number;
  /** Called once both sockets have closed. */
  closed(link: Link): void;
}

interface Piece {
  /** `undefined`: the source's FIN, passed on as an `end()` once everything before it left. */
  data: Buffer | undefined;
  readonly readyAt: number;
}

/** How far behind a late timer the bandwidth clock may start again: a short burst, not a flood. */
const BANDWIDTH_CATCH_UP_MS = 20;
/** Under a bandwidth limit, bytes leave in pieces of 10 ms worth, so the rate is smooth. */
const BANDWIDTH_QUANTA_PER_SECOND = 100;
/** A queue whose head moved this far is compacted. */
const COMPACT_AFTER = 1024;
/** How much of what a client sent first a link keeps as its `head`. */
export const HEAD_BYTES = 2048;

class Pipe {
  private queue: Piece[] = [];
  private head = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private lastReadyAt = 0;
  private bandwidthFreeAt = 0;
  private awaitingDrain = false;
  private sourcePaused = false;
  queuedBytes = 0;
  bytes = 0;
  /** The source's FIN (or its close) is queued. */
  ending = false;
  /** The FIN went out: `end()` was called on the destination. */
  delivered = false;
  /** The destination is gone: nothing can be passed on. */
  dead = false;

  constructor(
    private readonly link: Link,
    private readonly context: LinkContext,
    private readonly source: Socket,
    private readonly destination: Socket,
    private readonly direction: Direction,
  ) {}

  get done(): boolean {
    return this.delivered || this.dead;
  }

  push(chunk: Buffer): void {
    if (this.dead || this.ending) return;
    const faults = this.context.faults(this.direction);
    let readyAt = this.readyAt(faults.latencyMs, faults.jitterMs);
    const slicer = faults.slicer;
    if (slicer === undefined) this.queue.push({ data: chunk, readyAt });
    else {
      const step = (slicer.delayUs ?? 0) / 1000;
      const variation = slicer.sizeVariationBytes ?? 0;
      let at = 0;
      for (;;) {
        const size = Math.max(1, Math.round(slicer.averageBytes + (this.context.random() * 2 - 1) * variation));
        this.queue.push({ data: chunk.subarray(at, at + size), readyAt });
        at += size;
        if (at >= chunk.length) break;
        readyAt += step;
      }
    }
    this.lastReadyAt = readyAt;
    this.queuedBytes += chunk.length;
    if (this.queuedBytes > this.context.maxQueuedBytes && !this.sourcePaused) {
      this.sourcePaused = true;
      this.source.pause();
    }
    if (this.timer === undefined) this.pump();
  }

  /** The source sent its FIN or went away: the destination is ended after what came before. */
  end(): void {
    if (this.dead || this.ending) return;
    this.ending = true;
    const faults = this.context.faults(this.direction);
    this.queue.push({ data: undefined, readyAt: (this.lastReadyAt = this.readyAt(faults.latencyMs, faults.jitterMs)) });
    if (this.timer === undefined) this.pump();
  }

  /** The destination closed: drop what was queued for it. */
  kill(): void {
    this.dead = true;
    this.stop();
    this.queue = [];
    this.head = 0;
    this.queuedBytes = 0;
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Never earlier than the piece before it, so jitter cannot reorder bytes. */
  private readyAt(latencyMs: number, jitterMs: number): number {
    const delay = Math.max(0, latencyMs + (this.context.random() * 2 - 1) * jitterMs);
    return Math.max(this.lastReadyAt, performance.now() + delay);
  }

  pump(): void {
    this.stop();
    if (this.link.frozen || this.dead || this.awaitingDrain) return;
    const bandwidth = this.context.faults(this.direction).bandwidthBytesPerSecond;
    for (;;) {
      const piece = this.queue[this.head];
      if (piece === undefined) return;
      const now = performance.now();
      const wait = Math.max(piece.readyAt, bandwidth > 0 && piece.data !== undefined ? this.bandwidthFreeAt : 0) - now;
      if (wait > 0) {
        this.timer = setTimeout(() => this.pump(), Math.ceil(wait));
        return;
      }
      if (piece.data === undefined) {
        this.shift();
        this.delivered = true;
        this.destination.end();
        this.link.settle();
        return;
      }
      let data = piece.data;
      if (bandwidth > 0) {
        const quantum = Math.max(1, Math.floor(bandwidth / BANDWIDTH_QUANTA_PER_SECOND));
        if (data.length > quantum) {
          piece.data = data.subarray(quantum);
          data = data.subarray(0, quantum);
        } else this.shift();
        this.bandwidthFreeAt = Math.max(this.bandwidthFreeAt, now - BANDWIDTH_CATCH_UP_MS) + (data.length * 1000) / bandwidth;
      } else this.shift();
      this.queuedBytes -= data.length;
      this.bytes += data.length;
      const more = this.destination.write(data);
      if (this.sourcePaused && this.queuedBytes <= this.context.maxQueuedBytes / 2) {
        this.sourcePaused = false;
        this.source.resume();
      }
      if (!more) {
        this.awaitingDrain = true;
        this.destination.once('drain', () => {
          this.awaitingDrain = false;
          this.pump();
        });
        return;
      }
    }
  }

  private shift(): void {
    this.head++;
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
    } else if (this.head >= COMPACT_AFTER && this.head * 2 >= this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
  }
}

/** A client connection and the proxy's connection upstream for it. */
export class Link implements FaultLink {
  frozen = false;
  readonly clientAddress: string;
  readonly clientPort: number;
  readonly openedAt = Date.now();
  head = '';
  private readonly toUpstream: Pipe;
  private readonly toClient: Pipe;
  private open = 2;

  constructor(
    readonly id: number,
    private readonly client: Socket,
    private readonly upstream: Socket,
    context: LinkContext,
  ) {
    this.clientAddress = client.remoteAddress ?? '';
    this.clientPort = client.remotePort ?? 0;
    this.toUpstream = new Pipe(this, context, client, upstream, 'upstream');
    this.toClient = new Pipe(this, context, upstream, client, 'downstream');
    const keepHead = (chunk: Buffer): void => {
      this.head += chunk.toString('latin1', 0, HEAD_BYTES - this.head.length);
      if (this.head.length >= HEAD_BYTES) client.off('data', keepHead);
    };
    client.on('data', keepHead);
    for (const [socket, from, to] of [
      [client, this.toUpstream, this.toClient],
      [upstream, this.toClient, this.toUpstream],
    ] as const) {
      socket.setNoDelay(true);
      socket.on('data', (chunk: Buffer) => from.push(chunk));
      socket.on('end', () => from.end());
      // Errors end in 'close'; a reset peer is passed on as a FIN, after what it had sent.
      socket.on('error', () => {});
      socket.on('close', () => {
        to.kill();
        from.end();
        this.settle();
        if (--this.open === 0) context.closed(this);
      });
    }
  }

  get bytesUpstream(): number {
    return this.toUpstream.bytes;
  }

  get bytesDownstream(): number {
    return this.toClient.bytes;
  }

  get queuedBytes(): number {
    return this.toUpstream.queuedBytes + this.toClient.queuedBytes;
  }

  freeze(): void {
    this.frozen = true;
    this.toUpstream.stop();
    this.toClient.stop();
  }

  thaw(): void {
    this.frozen = false;
    this.toUpstream.pump();
    this.toClient.pump();
  }

  /** Both sides get an RST (ECONNRESET), now. */
  reset(): void {
    this.toUpstream.kill();
    this.toClient.kill();
    for (const socket of [this.client, this.upstream]) if (!socket.destroyed) socket.resetAndDestroy();
  }

  destroy(): void {
    this.toUpstream.kill();
    this.toClient.kill();
    this.client.destroy();
    this.upstream.destroy();
  }

  /** Once both directions are over, each socket is destroyed when what was written to it has left. */
  settle(): void {
    if (!this.toUpstream.done || !this.toClient.done) return;
    for (const socket of [this.client, this.upstream]) {
      if (socket.destroyed) continue;
      if (socket.writableFinished) socket.destroy();
      else socket.once('finish', () => socket.destroy());
    }
  }
}
