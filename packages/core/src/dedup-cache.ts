/**
 * The last `capacity` request ids of a session with the frame that answered each, so that a
 * retried request is answered from here instead of running its handler twice.
 */
export interface DedupEntry {
  readonly type: string;
  /** The encoded response, or undefined while the handler is still running. */
  frame: string | undefined;
}

export class DedupCache {
  private readonly entries = new Map<string, DedupEntry>();

  constructor(private readonly capacity: number) {}

  get(id: string): DedupEntry | undefined {
    return this.entries.get(id);
  }

  /** Records a request as running; evicts the oldest id when full. */
  begin(id: string, type: string): DedupEntry {
    if (this.entries.size >= this.capacity) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    const entry: DedupEntry = { type, frame: undefined };
    if (this.capacity > 0) this.entries.set(id, entry);
    return entry;
  }

  get size(): number {
    return this.entries.size;
  }
}
