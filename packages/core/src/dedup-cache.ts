/**
 * Recent request ids of a session with the frame that answered each, so that a retried
 * request is answered from here instead of running its handler twice.
 *
 * Two generations of `capacity` ids each: ids go into the current one; when it is full it
 * becomes the previous one and the one before is dropped whole. So the last `capacity` ids
 * are always remembered (and at most twice that), the hot path does one lookup and one insert
 * with no per-request eviction, and `forget` can drop any id without upsetting an order.
 * Answers are bounded in bytes too: past `maxBytes`, the previous generation goes early.
 *
 * What this cache costs is keeping answers alive at all (they outlive young-generation GC):
 * with `dedupWindow: 0` the uWS request/response benchmark runs about a third faster.
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
  private current = new Map<string, DedupEntry>();
  private previous: Map<string, DedupEntry> | null = null;
  private currentBytes = 0;
  private previousBytes = 0;

  constructor(
    private readonly capacity: number,
    private readonly maxBytes: number = DEFAULT_DEDUP_BYTES,
  ) {}

  get(id: string): DedupEntry | undefined {
    return this.current.get(id) ?? this.previous?.get(id);
  }

  /** Records a request as running; starts a new generation when the current one is full. */
  begin(id: string, type: string): DedupEntry {
    const entry: DedupEntry = { id, type, frame: undefined };
    if (this.capacity === 0) return entry;
    if (this.current.size >= this.capacity) this.rotate();
    this.current.set(id, entry);
    return entry;
  }

  /** Stores the answer of a running request; drops the oldest answers past the byte budget. */
  finish(entry: DedupEntry, frame: string): void {
    entry.frame = frame;
    if (this.current.get(entry.id) === entry) this.currentBytes += frame.length;
    else if (this.previous?.get(entry.id) === entry) this.previousBytes += frame.length;
    else return;
    if (this.currentBytes + this.previousBytes <= this.maxBytes) return;
    this.previous = null;
    this.previousBytes = 0;
    // The current generation alone is over budget: it becomes the previous one, and goes next time.
    if (this.currentBytes > this.maxBytes / 2 && this.current.size > 1) this.rotate();
  }

  /** Forgets a request that was never answered, so that a retry runs the checks again. */
  forget(id: string): void {
    for (const generation of [this.current, this.previous]) {
      if (generation?.get(id)?.frame === undefined) generation?.delete(id);
    }
  }

  private rotate(): void {
    this.previous = this.current;
    this.previousBytes = this.currentBytes;
    this.current = new Map();
    this.currentBytes = 0;
  }

  get size(): number {
    return this.current.size + (this.previous?.size ?? 0);
  }
}
