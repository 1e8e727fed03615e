import type { Clock } from '../clock.ts';

interface Interval {
  readonly callback: () => void;
  readonly ms: number;
  next: number;
}

/**
 * A clock that moves only when told, so every deadline is tested without waiting.
 *
 * @example
 * const clock = new ManualClock();
 * const herald = createHerald({ contract, handlers, clock });
 * clock.advance(10_000); // the auth deadline passes, deterministically
 */
export class ManualClock implements Clock {
  private time: number;
  private readonly intervals = new Set<Interval>();

  constructor(start = 1_700_000_000_000) {
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  setInterval(callback: () => void, ms: number): unknown {
    const interval: Interval = { callback, ms, next: this.time + ms };
    this.intervals.add(interval);
    return interval;
  }

  clearInterval(handle: unknown): void {
    this.intervals.delete(handle as Interval);
  }

  /** Moves time forward by `ms`, firing every interval that falls due, in time order. */
  advance(ms: number): void {
    const target = this.time + ms;
    for (;;) {
      let due: Interval | undefined;
      for (const interval of this.intervals) if (interval.next <= target && (due === undefined || interval.next < due.next)) due = interval;
      if (due === undefined) break;
      this.time = due.next;
      due.next += due.ms;
      due.callback();
    }
    this.time = target;
  }
}
