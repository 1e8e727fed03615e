/**
 * The live tail of a session's frames: a tap starts when the page first asks for a session's
 * frames and stops once nobody has asked for a while, so an untapped session costs nothing.
 * Frames are redacted as they are captured: a hidden body is never kept.
 */
import type { Inspection, TappedFrame } from '@herald/core';
import { redactFrame } from './redaction.ts';

/** A captured frame, numbered per session from 1. */
export interface TailFrame {
  readonly n: number;
  readonly at: number;
  readonly direction: TappedFrame['direction'];
  readonly frame: Record<string, unknown>;
}

/** Frames after a cursor; `next` is the cursor of the next read. */
export interface TailPage {
  readonly frames: readonly TailFrame[];
  readonly next: number;
}

const CAPACITY = 200;

class Tail {
  readonly frames: TailFrame[] = [];
  count = 0;
  untap: () => void = () => {};

  constructor(public readAt: number) {}

  push(tapped: TappedFrame, showBodies: boolean): void {
    this.frames.push({ n: ++this.count, at: tapped.at, direction: tapped.direction, frame: redactFrame(tapped.frame, showBodies) });
    if (this.frames.length > CAPACITY) this.frames.shift();
  }
}

export class FrameTails {
  private readonly tails = new Map<string, Tail>();

  constructor(
    private readonly inspection: Inspection,
    private readonly showBodies: boolean,
    private readonly idleMs: number,
  ) {}

  /** The frames of a session after `after`, tapping it from now on; undefined when this node does not hold it. */
  read(sessionId: string, after: number, now: number): TailPage | undefined {
    let tail = this.tails.get(sessionId);
    if (tail !== undefined && !this.inspection.holds(sessionId)) {
      tail.untap();
      this.tails.delete(sessionId);
      return undefined;
    }
    if (tail === undefined) {
      const started = new Tail(now);
      const untap = this.inspection.tap(sessionId, (tapped) => started.push(tapped, this.showBodies));
      if (untap === undefined) return undefined;
      started.untap = untap;
      this.tails.set(sessionId, (tail = started));
    }
    tail.readAt = now;
    const frames = tail.frames.filter((frame) => frame.n > after);
    return { frames, next: tail.count };
  }

  /** Stops the taps nobody read within the idle time. */
  sweep(now: number): void {
    for (const [sessionId, tail] of this.tails) {
      if (now - tail.readAt < this.idleMs) continue;
      tail.untap();
      this.tails.delete(sessionId);
    }
  }

  close(): void {
    for (const tail of this.tails.values()) tail.untap();
    this.tails.clear();
  }
}
