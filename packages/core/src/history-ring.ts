/**
 * One topic's history, held compactly: a ring of parallel slots (the type, a name shared by
 * every message of that type; the body, the JSON text stringified once by the publisher; the
 * publish time, only when trimming by age) instead of an object per message. Offsets are not
 * stored: they are contiguous, so the oldest one is `lastOffset - size + 1`.
 *
 * The ring starts empty and doubles up to `limit`, so a topic with a few messages costs a few
 * slots; it halves when it empties out, so dropped messages give their slots back.
 */

/** Per message beyond its body's characters: the body string's header and the type and body slots. */
export const MESSAGE_OVERHEAD_BYTES = 32;
/** A publish time, when the ring keeps them. */
const TIME_BYTES = 8;
const MIN_CAPACITY = 8;

/**
 * The same text as one contiguous string. `JSON.stringify` builds its result from parts (in V8
 * a rope: a 134-character body is three strings and two joints, ~110 bytes more than the
 * text); converting to a number reads it whole, which makes the engine join it in place.
 */
function flat(text: string): string {
  Number(text);
  return text;
}

export class HistoryRing {
  private types: string[] = [];
  private bodies: Array<string | undefined> = [];
  private times: Float64Array | undefined;
  private capacity = 0;
  private head = 0;
  private held = 0;
  private heldBytes = 0;
  private last = 0;

  /**
   * @param limit messages kept; pushing past it drops the oldest
   * @param timed whether publish times are kept (for `dropOlderThan`)
   */
  constructor(
    private readonly limit: number,
    private readonly timed: boolean,
  ) {
    if (timed) this.times = new Float64Array(0);
  }

  /** Messages held. */
  get size(): number {
    return this.held;
  }

  /** Approximate memory held: bodies (one byte per character) plus a fixed cost per message. */
  get bytes(): number {
    return this.heldBytes;
  }

  /** Offset of the newest message pushed (0 before the first). */
  get lastOffset(): number {
    return this.last;
  }

  /** Offset of the oldest message held, or the next one to be pushed when empty. */
  get oldestOffset(): number {
    return this.last - this.held + 1;
  }

  private costOf(body: string | undefined): number {
    return MESSAGE_OVERHEAD_BYTES + (this.timed ? TIME_BYTES : 0) + (body?.length ?? 0);
  }

  /** Appends the next message (offset `lastOffset + 1`), dropping the oldest when `limit` is reached; returns its offset. */
  push(type: string, body: string | undefined, time: number): number {
    this.last++;
    if (this.limit === 0) return this.last;
    if (this.held === this.limit) this.dropOldest();
    if (this.held === this.capacity) this.resize(Math.min(this.limit, Math.max(MIN_CAPACITY, this.capacity * 2)));
    const slot = (this.head + this.held) % this.capacity;
    this.types[slot] = type;
    this.bodies[slot] = body === undefined ? body : flat(body);
    if (this.times !== undefined) this.times[slot] = time;
    this.held++;
    this.heldBytes += this.costOf(body);
    return this.last;
  }

  /** Drops the oldest message, if any. */
  dropOldest(): void {
    if (this.held === 0) return;
    this.heldBytes -= this.costOf(this.bodies[this.head]);
    this.bodies[this.head] = undefined;
    this.head = (this.head + 1) % this.capacity;
    this.held--;
    if (this.held === 0) this.resize(0);
    else if (this.capacity > MIN_CAPACITY && this.held * 4 <= this.capacity) this.resize(Math.max(MIN_CAPACITY, this.capacity >> 1));
  }

  /** Drops every message published before `cutoff` (needs `timed`). */
  dropOlderThan(cutoff: number): void {
    const times = this.times;
    if (times === undefined) return;
    while (this.held > 0 && (times[this.head] as number) < cutoff) this.dropOldest();
  }

  /** Calls `visit` for every message held after `offset`, oldest first. */
  forEachAfter(offset: number, visit: (offset: number, type: string, body: string | undefined) => void): void {
    const oldest = this.oldestOffset;
    for (let o = Math.max(offset + 1, oldest); o <= this.last; o++) {
      const slot = (this.head + o - oldest) % this.capacity;
      visit(o, this.types[slot] as string, this.bodies[slot]);
    }
  }

  /** Moves the held messages, oldest first, into fresh slots of `capacity` (≥ `size`). */
  private resize(capacity: number): void {
    const types = new Array<string>(capacity);
    const bodies = new Array<string | undefined>(capacity);
    const times = this.times === undefined ? undefined : new Float64Array(capacity);
    for (let i = 0; i < this.held; i++) {
      const from = (this.head + i) % this.capacity;
      types[i] = this.types[from] as string;
      bodies[i] = this.bodies[from];
      if (times !== undefined) times[i] = (this.times as Float64Array)[from] as number;
    }
    this.types = types;
    this.bodies = bodies;
    if (times !== undefined) this.times = times;
    this.capacity = capacity;
    this.head = 0;
  }
}
