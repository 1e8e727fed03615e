/**
 * A session's private notifications that the client has not acknowledged yet, as encoded
 * frames keyed by their contiguous `seq`. Bounded by the caller (`replayWindow`).
 */
export class ReplayBuffer {
  private frames: string[] = [];
  private head = 0;
  /** `seq` of `frames[head]`. */
  private firstSeq = 1;

  /** Number of frames held. */
  get size(): number {
    return this.frames.length - this.head;
  }

  /** The lowest `seq` still held, or the next one to be pushed when empty. */
  get oldestSeq(): number {
    return this.firstSeq;
  }

  /** Appends the frame of `seq`, which must follow the last one pushed. */
  push(seq: number, frame: string): void {
    if (this.size === 0) this.firstSeq = seq;
    this.frames.push(frame);
  }

  /** Drops every frame with a `seq` up to and including `seq`. */
  ack(seq: number): void {
    const drop = Math.min(seq - this.firstSeq + 1, this.size);
    if (drop <= 0) return;
    this.head += drop;
    this.firstSeq += drop;
    if (this.head === this.frames.length) {
      this.frames = [];
      this.head = 0;
    } else if (this.head > 64 && this.head * 2 > this.frames.length) {
      this.frames = this.frames.slice(this.head);
      this.head = 0;
    }
  }

  /** Drops the oldest frame (overflow while nobody can acknowledge). */
  dropOldest(): void {
    if (this.size > 0) this.ack(this.firstSeq);
  }

  /** Calls `send` for every frame with a `seq` above `seq`, in order, until it returns false. */
  forEachAfter(seq: number, send: (frame: string, seq: number) => boolean): void {
    const start = Math.max(seq + 1, this.firstSeq);
    for (let s = start, i = this.head + (start - this.firstSeq); i < this.frames.length; s++, i++) {
      if (!send(this.frames[i] as string, s)) return;
    }
  }
}
