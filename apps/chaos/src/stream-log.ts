/**
 * What one client received of one stream (a topic, or its private notifications), and the
 * check of it against what was published. Every message carries the round `n` it was
 * published in. A client told it could not recover (`recovered: false`,
 * `herald.TopicReset`) may have missed what was published before it was told and had not
 * reached it yet; from the reset on, every message must arrive once and in order. Across a
 * reset, a message may come again or out of order (a new epoch): reported, not a failure.
 */

/**
 * The client tells from a microtask after the frame that said so, so messages of the same
 * batch may land just before the tell: they count as after it.
 */
const TELL_SLACK_MS = 250;

/** What one stream's check found. */
export interface StreamTally {
  /** Distinct messages received. */
  readonly delivered: number;
  /** Published messages that never arrived and no reset explains. */
  readonly lost: number;
  /** Messages received again with no reset in between. */
  readonly duplicated: number;
  /** Messages received after a later one with no reset in between. */
  readonly reordered: number;
  /** Published messages that never arrived, published before a reset the client was told of and not yet reached then. */
  readonly missedAtReset: number;
  /** Messages received again, or out of order, across a reset the client was told of. */
  readonly acrossReset: number;
}

/** One stream as one client received it. Times are `Date.now()` milliseconds. */
export class StreamLog {
  private readonly ns: number[] = [];
  private readonly ats: number[] = [];
  private readonly tells: number[] = [];
  /** The highest round received. */
  highest = 0;
  private readonly received = new Set<number>();

  /** Records a message; true when it is the first copy of `n`. */
  receive(n: number, at: number): boolean {
    this.ns.push(n);
    this.ats.push(at);
    this.highest = Math.max(this.highest, n);
    if (this.received.has(n)) return false;
    this.received.add(n);
    return true;
  }

  /** When the first message after `at` arrived, if one did. */
  firstAfter(at: number): number | undefined {
    let low = 0;
    let high = this.ats.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if ((this.ats[middle] as number) > at) high = middle;
      else low = middle + 1;
    }
    return this.ats[low];
  }

  /** The client was told this stream could not be recovered. */
  tell(at: number): void {
    this.tells.push(at);
  }

  /** Whether the client was told of a reset after `from` and no later than `to`. */
  private toldBetween(from: number, to: number): boolean {
    return this.tells.some((at) => at > from && at <= to);
  }

  /**
   * Checks the stream against `expected` (the rounds whose publish succeeded, ascending);
   * `publishedAt(n)` is when round `n` was published.
   */
  tally(expected: readonly number[], publishedAt: (n: number) => number): StreamTally {
    let duplicated = 0;
    let reordered = 0;
    let acrossReset = 0;
    const firstAt = new Map<number, number>();
    let highest = -Infinity;
    let highestAt = -Infinity;
    for (let i = 0; i < this.ns.length; i++) {
      const n = this.ns[i] as number;
      const at = this.ats[i] as number;
      const before = firstAt.get(n);
      if (before !== undefined) {
        if (this.toldBetween(before, at + TELL_SLACK_MS)) acrossReset++;
        else duplicated++;
        continue;
      }
      firstAt.set(n, at);
      if (n < highest) {
        if (this.toldBetween(highestAt, at + TELL_SLACK_MS)) acrossReset++;
        else reordered++;
      } else {
        highest = n;
        highestAt = at;
      }
    }

    // Per tell, the highest round received before it (the messages of its own batch aside).
    const reachedBy: number[] = [];
    let reached = -Infinity;
    let receipt = 0;
    for (const told of this.tells) {
      while (receipt < this.ns.length && (this.ats[receipt] as number) < told - TELL_SLACK_MS) reached = Math.max(reached, this.ns[receipt++] as number);
      reachedBy.push(reached);
    }
    let lost = 0;
    let missedAtReset = 0;
    for (const n of expected) {
      if (firstAt.has(n)) continue;
      // The first reset after its publish is the one that can explain it: later ones were reached further.
      const at = publishedAt(n);
      const tell = this.tells.findIndex((told) => told >= at);
      if (tell >= 0 && (reachedBy[tell] as number) < n) missedAtReset++;
      else lost++;
    }
    return { delivered: firstAt.size, lost, duplicated, reordered, missedAtReset, acrossReset };
  }
}
