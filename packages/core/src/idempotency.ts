/**
 * Idempotent publishing: a producer that may deliver twice (a queue consumer, a webhook retry)
 * names each message with a key, and a message whose key was used within the window is not
 * published again. Brokers and session stores honour the key themselves (Redis atomically, in
 * the publishing script); this window serves the in-memory ones.
 */

/** How long a used key is remembered by default: five minutes, as Centrifugo's idempotency keys. */
export const IDEMPOTENCY_WINDOW_MS: number = 5 * 60_000;

/** How a publish or send-to-user may be named so that a retry of it does nothing. */
export interface PublishOptions {
  /**
   * Published once per key and topic (for `sendToUser`: per key and user) within the broker's or
   * session store's idempotency window (default 5 minutes): a second publish with the key is
   * not delivered and resolves with the first one's position. 1 to 256 characters.
   */
  readonly idempotencyKey?: string;
}

const MAX_KEY_LENGTH = 256;

/** Throws a `TypeError` for a key that is not a string of 1 to 256 characters. */
export function assertIdempotencyKey(key: unknown): asserts key is string | undefined {
  if (key === undefined) return;
  if (typeof key !== 'string' || key.length === 0 || key.length > MAX_KEY_LENGTH) {
    throw new TypeError(`idempotencyKey must be a string of 1 to ${MAX_KEY_LENGTH} characters`);
  }
}

/** Throws a `RangeError` for a window that is not a number of milliseconds > 0. */
export function idempotencyWindow(owner: string, windowMs: number | undefined): number {
  const value = windowMs ?? IDEMPOTENCY_WINDOW_MS;
  if (typeof value !== 'number' || !(value > 0) || !Number.isFinite(value)) {
    throw new RangeError(`${owner}: idempotencyWindowMs must be a number of milliseconds > 0, got ${String(windowMs)}`);
  }
  return value;
}

/**
 * Keys used within the last `windowMs`, with what their first use gave. Keys are kept in the
 * order they were first used, so expired ones are dropped from the front as new ones come:
 * memory stays within what the window holds, and `maxKeys` bounds it under any rate.
 */
export class IdempotencyWindow<V> {
  private readonly used = new Map<string, { readonly value: V; readonly at: number }>();
  /**
   * Keys in the order they were remembered, with when: expiry and eviction pop from the front.
   * (Deleting a Map's oldest entries and iterating from its start again is O(deleted) in V8,
   * which made a window of 100,000 keys 100× slower.) An entry whose key was remembered again
   * or forgotten since is skipped.
   */
  private order: string[] = [];
  private orderAt: number[] = [];
  private head = 0;

  constructor(
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
    private readonly maxKeys = 100_000,
  ) {}

  /** What the key's first use within the window gave, if it was used. */
  get(key: string): V | undefined {
    this.expire();
    return this.used.get(key)?.value;
  }

  remember(key: string, value: V): void {
    const at = this.now();
    this.used.set(key, { value, at });
    this.order.push(key);
    this.orderAt.push(at);
    while (this.used.size > this.maxKeys && this.popOldest()) {}
  }

  forget(key: string): void {
    this.used.delete(key);
  }

  get size(): number {
    return this.used.size;
  }

  /** Drops the front of the order, and its key if the entry is still the one remembered then; false when empty. */
  private popOldest(): boolean {
    if (this.head >= this.order.length) return false;
    const key = this.order[this.head] as string;
    const at = this.orderAt[this.head] as number;
    this.head++;
    if (this.used.get(key)?.at === at) this.used.delete(key);
    if (this.head > 1024 && this.head * 2 > this.order.length) {
      this.order = this.order.slice(this.head);
      this.orderAt = this.orderAt.slice(this.head);
      this.head = 0;
    }
    return true;
  }

  private expire(): void {
    const before = this.now() - this.windowMs;
    while (this.head < this.order.length && (this.orderAt[this.head] as number) <= before) this.popOldest();
  }
}
