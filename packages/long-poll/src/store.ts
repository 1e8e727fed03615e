/**
 * Where long-poll connections are found by id. Each request names its connection, so any
 * request may land on any handler that can reach the store; the in-memory store serves one
 * process. A connection holds a live core session, so sharing it across nodes also needs the
 * session state in a shared store (the Redis issue).
 */
import type { LongPollSocket } from './long-poll-socket.ts';

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
