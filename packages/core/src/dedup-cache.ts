/**
 * The last `capacity` request ids of a session with the frame that answered each, so that a
 * retried request is answered from here instead of running its handler twice. Bounded in
 * count and in bytes: the oldest answers go first.
 */
export interface DedupEntry {
  readonly type: string;
  /** The encoded response, or undefined while the handler is still running. */
  frame: string | undefined;
}

/** Bytes of cached answers per session when nothing else is configured. */
export const DEFAULT_DEDUP_BYTES: number = 1024 * 1024;

export class DedupCache {
  private readonly entries = new Map<string, DedupEntry>();
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
    if (this.entries.size >= this.capacity) this.evictOldest();
    const entry: DedupEntry = { type, frame: undefined };
    if (this.capacity > 0) this.entries.set(id, entry);
    return entry;
  }

  /** Stores the answer of a running request, evicting the oldest answers past the byte budget. */
  finish(entry: DedupEntry, frame: string): void {
    entry.frame = frame;
    this.bytes += frame.length;
    while (this.bytes > this.maxBytes && this.entries.size > 1) {
      const oldest = this.entries.entries().next();
      if (oldest.done || oldest.value[1] === entry) break;
      this.evictOldest();
    }
  }

  /** Forgets a request that was never answered, so that a retry runs the checks again. */
  forget(id: string): void {
    const entry = this.entries.get(id);
    if (entry === undefined || entry.frame !== undefined) return;
    this.entries.delete(id);
  }

  private evictOldest(): void {
    const oldest = this.entries.entries().next();
    if (oldest.done) return;
    this.entries.delete(oldest.value[0]);
    this.bytes -= oldest.value[1].frame?.length ?? 0;
  }

  get size(): number {
    return this.entries.size;
  }
}
