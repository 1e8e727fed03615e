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
 * Keys used within the last `windowMs`, per scope (a topic, a user), with what their first use
 * gave. Keys are kept in the order they were first used, so expired ones are dropped from the
 * front as new ones come: memory stays within what the window holds, and `maxKeys` bounds it
 * under any rate. Values are objects, so an entry is told from a later one of the same key by
 * identity.
 */
export class IdempotencyWindow<V extends object> {
  /**
   * Per scope, then per key: a key joined to its scope would be a new string to hash on every
   * publish, which cost more than the publish itself.
   */
  private readonly used = new Map<string, Map<string, V>>();
  private count = 0;
  /**
   * What was remembered, in order, with when: expiry and eviction pop from the front. (Deleting
   * a Map's oldest entries and iterating from its start again is O(deleted) in V8, which made a
   * window of 100,000 keys 100× slower.) An entry whose key was remembered again or forgotten
   * since is skipped.
   */
  private scopes: string[] = [];
  private keys: string[] = [];
  private values: V[] = [];
  private times: number[] = [];
  private head = 0;

  constructor(
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
    private readonly maxKeys = 100_000,
  ) {}

  /** What the key's first use in `scope` within the window gave, if it was used. */
  get(scope: string, key: string): V | undefined {
    this.expire();
    return this.used.get(scope)?.get(key);
  }

  remember(scope: string, key: string, value: V): void {
    let inScope = this.used.get(scope);
    if (inScope === undefined) this.used.set(scope, (inScope = new Map()));
    const size = inScope.size;
    inScope.set(key, value);
    this.count += inScope.size - size;
    this.scopes.push(scope);
    this.keys.push(key);
    this.values.push(value);
    this.times.push(this.now());
    while (this.count > this.maxKeys && this.popOldest()) {}
  }

  forget(scope: string, key: string): void {
    const inScope = this.used.get(scope);
    if (inScope?.delete(key) !== true) return;
    this.count--;
    if (inScope.size === 0) this.used.delete(scope);
  }

  get size(): number {
    return this.count;
  }

  /** Drops the front of the order, and its key if the entry is still the one remembered then; false when empty. */
  private popOldest(): boolean {
    const at = this.head;
    if (at >= this.keys.length) return false;
    const scope = this.scopes[at] as string;
    const key = this.keys[at] as string;
    if (this.used.get(scope)?.get(key) === this.values[at]) this.forget(scope, key);
    this.head++;
    if (this.head > 1024 && this.head * 2 > this.keys.length) {
      this.scopes = this.scopes.slice(this.head);
      this.keys = this.keys.slice(this.head);
      this.values = this.values.slice(this.head);
      this.times = this.times.slice(this.head);
      this.head = 0;
    }
    return true;
  }

  private expire(): void {
    const before = this.now() - this.windowMs;
    while (this.head < this.times.length && (this.times[this.head] as number) <= before) this.popOldest();
  }
}
