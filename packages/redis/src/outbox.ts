/**
 * Writes that must not be lost while Redis is unreachable: they wait here, in the order they
 * were issued, and leave in that order once the connection is back. Bounded, so a long outage
 * turns into clear errors for the callers instead of unbounded memory.
 */

/** Thrown (as a rejected promise) when a write finds the outbox full. */
export class OutboxFullError extends Error {
  constructor(capacity: number) {
    super(`redis unreachable and the outbox is full (${capacity} writes waiting): write refused`);
    this.name = 'OutboxFullError';
  }
}

interface Pending {
  readonly run: () => Promise<unknown>;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

export class Outbox {
  private readonly queue: Pending[] = [];
  private flushing = false;

  constructor(
    private readonly capacity: number,
    /** Whether a write may go to Redis now. */
    private readonly ready: () => boolean,
    /** Whether a failed write failed for want of a connection (and should wait for the next one). */
    private readonly isConnectionError: (error: unknown) => boolean,
  ) {}

  get size(): number {
    return this.queue.length;
  }

  /** Runs `write` now when Redis is up and nothing waits before it, else queues it. */
  write<T>(run: () => Promise<T>): Promise<T> {
    if (this.queue.length === 0 && !this.flushing && this.ready()) {
      return run().catch((error: unknown) => {
        if (!this.isConnectionError(error)) throw error;
        return this.enqueue(run);
      });
    }
    return this.enqueue(run);
  }

  private enqueue<T>(run: () => Promise<T>): Promise<T> {
    if (this.queue.length >= this.capacity) return Promise.reject(new OutboxFullError(this.capacity));
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ run, resolve: resolve as (value: unknown) => void, reject });
      void this.flush();
    });
  }

  /** Sends waiting writes one by one, in order; stops at the first connection error until called again. */
  async flush(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    try {
      while (this.queue.length > 0 && this.ready()) {
        const next = this.queue[0] as Pending;
        try {
          next.resolve(await next.run());
        } catch (error) {
          if (this.isConnectionError(error)) return;
          next.reject(error);
        }
        this.queue.shift();
      }
    } finally {
      this.flushing = false;
    }
  }

  /** Rejects everything still waiting (the broker is closing). */
  clear(error: Error): void {
    for (const pending of this.queue.splice(0)) pending.reject(error);
  }
}
