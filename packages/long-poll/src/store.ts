/**
 * Where long-poll connections are found by id. Each request names its connection, so any
 * request may land on any handler that can reach the store. `LongPollStore` keeps them in
 * this process (`MemoryLongPollStore`); a `SharedLongPollStore` (`RedisLongPollStore` from
 * `@herald/redis`) lets every node of a cluster serve every connection: the frames wait in
 * the shared store, and what a client sends reaches the node that holds its session.
 */
import type { HeraldSocket } from '@herald/core';
import type { LongPollPeer } from './long-poll-handler.ts';
import type { LongPollSocket, PollResult } from './long-poll-socket.ts';

export interface LongPollStore {
  get(sid: string): LongPollSocket | undefined;
  set(sid: string, socket: LongPollSocket): void;
  delete(sid: string): void;
  entries(): Iterable<[string, LongPollSocket]>;
  readonly size: number;
}

export class MemoryLongPollStore implements LongPollStore {
  private readonly sockets = new Map<string, LongPollSocket>();

  get(sid: string): LongPollSocket | undefined {
    return this.sockets.get(sid);
  }

  set(sid: string, socket: LongPollSocket): void {
    this.sockets.set(sid, socket);
  }

  delete(sid: string): void {
    this.sockets.delete(sid);
  }

  entries(): Iterable<[string, LongPollSocket]> {
    return [...this.sockets.entries()];
  }

  get size(): number {
    return this.sockets.size;
  }
}

/** Why a shared store refused a request: no such connection (or its node is gone), or another credential. */
export type SharedRefusal = 'unknown' | 'forbidden';

/** A connection opened on this node, as the session behind it (`LongPollServer.open`) sees it. */
export interface SharedLongPollSocket extends HeraldSocket {
  connection: LongPollPeer | undefined;
}

/**
 * Long-poll connections any node can serve: the node that opened one holds its session and
 * writes its frames to the store; a poll on any node reads them, a send on any node reaches
 * the holder. When the holder is gone, requests are refused as `unknown` and the client opens
 * a new connection and resumes its session (on any node, with a shared session store).
 */
export interface SharedLongPollStore {
  readonly shared: true;
  /** A new connection held by this node; the handler attaches the core connection to it. */
  open(sid: string, credential: string | null, maxBufferedBytes: number, idleTimeoutMs: number): SharedLongPollSocket;
  /** Frames after cursor `ack`, at once if there are any, else when some arrive or after `holdMs`. */
  poll(sid: string, credential: string | null, ack: number, holdMs: number, signal?: AbortSignal): Promise<PollResult | SharedRefusal>;
  /** Hands frames to the node that holds the connection. */
  send(sid: string, credential: string | null, frames: readonly string[]): Promise<true | SharedRefusal>;
  /** The client ended the connection (a normal close of its session). */
  delete(sid: string, credential: string | null): Promise<true | SharedRefusal>;
  /** Connections held by this node. */
  readonly size: number;
  /**
   * The handler is closing (its server is shutting down, having written each session's Goodbye):
   * stop background work and answer every poll held here, those of connections other nodes hold
   * with what there is (their clients poll again, on another node). Requests that still arrive
   * are served; closing the store's own resources is the application's call.
   */
  close(): void;
}
