/**
 * One long-poll connection as the core's `HeraldSocket`: frames the session sends wait in a
 * buffer, numbered by a cursor, until a poll carries them and a later poll acknowledges them
 * (so a poll response lost on the way is simply sent again). At most one poll is held; a
 * newer one answers the older at once.
 */
import { CloseCode, type HeraldSocket } from '@herald/core';
import type { LongPollPeer } from './long-poll-handler.ts';

/** The answer to a poll: frames from cursor `from`, and the close once the session ended. */
export interface PollResult {
  readonly from: number;
  /** The buffer itself, not a copy: read it when answered (a later ack changes it). */
  readonly frames: readonly string[];
  readonly closed: { readonly code: number; readonly reason: string } | undefined;
}

interface HeldPoll {
  readonly answer: (result: PollResult) => void;
  /** When it started waiting: the handler's sweep answers it once it has waited long enough. */
  readonly since: number;
}

export class LongPollSocket implements HeraldSocket {
  readonly transport = 'long-poll';
  connection: LongPollPeer | undefined;
  closedWith: { code: number; reason: string } | undefined;
  /** When the client was last heard from (any request). */
  lastSeenAt: number;
  private frames: string[] = [];
  /** Cursor of `frames[0]`. */
  private from = 1;
  private bytes = 0;
  private held: HeldPoll | undefined;
  private waking = false;

  constructor(
    /** The `Authorization` header the session was opened with: later requests must match it. */
    readonly credential: string | null,
    /** Buffered bytes past which the session is closed (4507) instead of growing. */
    private readonly maxBufferedBytes: number,
    now: number,
  ) {
    this.lastSeenAt = now;
  }

  get bufferedAmount(): number {
    return this.bytes;
  }

  send(frame: string): void {
    if (this.closedWith !== undefined) return;
    this.frames.push(frame);
    this.bytes += frame.length;
    if (this.bytes > this.maxBufferedBytes) {
      this.close(CloseCode.SlowConsumer, 'slow consumer: long-poll buffer full');
      return;
    }
    this.wake();
  }

  close(code: number, reason: string): void {
    if (this.closedWith !== undefined) return;
    this.closedWith = { code, reason };
    this.wake();
  }

  /**
   * Drops frames the client acknowledged (cursor `ack` and below). Tells the core when that
   * took the buffer down from above `highWaterMark`: only then can it have held frames back.
   */
  ack(ack: number, highWaterMark = 0): void {
    const drop = Math.min(ack - this.from + 1, this.frames.length);
    if (drop <= 0) return;
    const before = this.bytes;
    for (let i = 0; i < drop; i++) this.bytes -= (this.frames[i] as string).length;
    // Poll bodies are built from `frames` before an ack can come, so it may change in place.
    if (drop === this.frames.length) this.frames.length = 0;
    else this.frames.splice(0, drop);
    this.from += drop;
    if (before > highWaterMark) this.connection?.drained();
  }

  /** Everything unacknowledged, plus the close if the session has ended. */
  private result(): PollResult {
    return { from: this.from, frames: this.frames, closed: this.closedWith };
  }

  /**
   * Answers at once when there is something to say, else holds the poll (true) until frames
   * arrive or `releaseHeldBefore` ends the wait: no timer per poll, the handler sweeps.
   * A poll already held is answered now: only the newest waits.
   */
  poll(now: number, answer: (result: PollResult) => void): boolean {
    this.release();
    if (this.frames.length > 0 || this.closedWith !== undefined) {
      answer(this.result());
      return false;
    }
    this.held = { answer, since: now };
    return true;
  }

  /** Whether a poll waits here for frames. */
  get holding(): boolean {
    return this.held !== undefined;
  }

  /** Answers the held poll, if any, with what there is now. */
  release(): void {
    const held = this.held;
    if (held === undefined) return;
    this.held = undefined;
    held.answer(this.result());
  }

  /** Stops holding `answer` (its client went away), if it is still the poll held. */
  cancel(answer: (result: PollResult) => void): void {
    if (this.held?.answer === answer) this.held = undefined;
  }

  /** Answers the held poll if it has waited since before `cutoff`; true while one is still held. */
  releaseHeldBefore(cutoff: number): boolean {
    if (this.held === undefined) return false;
    if (this.held.since > cutoff) return true;
    this.release();
    return false;
  }

  /** Frames sent in one tick leave in one poll response. */
  private wake(): void {
    if (this.held === undefined || this.waking) return;
    this.waking = true;
    queueMicrotask(this.woken);
  }

  private readonly woken = (): void => {
    this.waking = false;
    this.release();
  };
}
