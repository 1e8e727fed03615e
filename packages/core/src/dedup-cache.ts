/**
 * The last `capacity` request ids of a session with the frame that answered each, so that a
 * retried request is answered from here instead of running its handler twice. Bounded in
 * count and in bytes: the oldest answers go first.
 *
 * Ids are kept in first-use order in a ring beside the map, so eviction (which happens on
 * every request once the window is full) allocates nothing.
 */
export interface DedupEntry {
  readonly id: string;
  readonly type: string;
  /** The encoded response, or undefined while the handler is still running. */
  frame: string | undefined;
}

/** Bytes of cached answers per session when nothing else is configured. */
export const DEFAULT_DEDUP_BYTES: number = 1024 * 1024;

export class DedupCache {
  private readonly entries = new Map<string, DedupEntry>();
  /** Ids in first-use order: `order[head]` is the oldest, `entries.size` of them are live. */
  private readonly order: string[] = [];
  private head = 0;
  private bytes = 0;

  constructor(
    private readonly capacity: number,
    private readonly maxBytes: number = DEFAULT_DEDUP_BYTES,
  ) {}

  get(id: string): DedupEntry | undefined {
    return this.entries.get(id);
  }

  /** Records a request as running; evicts the oldest id when full. */
  begin(id: string, type: string): DedupEntry {
    const entry: DedupEntry = { id, type, frame: undefined };
    if (this.capacity === 0) return entry;
    if (this.entries.size >= this.capacity) this.evictOldest();
    const tail = (this.head + this.entries.size) % this.capacity;
    if (tail === this.order.length) this.order.push(id);
    else this.order[tail] = id;
    this.entries.set(id, entry);
    return entry;
  }

  /** Stores the answer of a running request, evicting the oldest answers past the byte budget. */
  finish(entry: DedupEntry, frame: string): void {
    entry.frame = frame;
    if (this.entries.get(entry.id) !== entry) return;
    this.bytes += frame.length;
    while (this.bytes > this.maxBytes && this.entries.size > 1 && this.order[this.head] !== entry.id) this.evictOldest();
  }

  /** Forgets a request that was never answered, so that a retry runs the checks again. */
  forget(id: string): void {
    const entry = this.entries.get(id);
    if (entry === undefined || entry.frame !== undefined) return;
    this.entries.delete(id);
  }

  private evictOldest(): void {
    const id = this.order[this.head] as string;
    const entry = this.entries.get(id);
    this.entries.delete(id);
    this.bytes -= entry?.frame?.length ?? 0;
    this.head = (this.head + 1) % this.capacity;
  }

  get size(): number {
    return this.entries.size;
  }
}
