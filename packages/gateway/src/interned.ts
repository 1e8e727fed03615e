/**
 * Values many sessions hold alike (the subprotocols a client offers, its `Host` header), kept
 * once: every link holds the first copy instead of one of its own. Clients choose these values,
 * so the table is bounded; past `capacity` distinct ones, a new value is kept as it came.
 */
export class Interned<T> {
  private readonly values = new Map<string, T>();

  constructor(private readonly capacity: number) {}

  /** The value first seen under `key`, or `value` (remembered while there is room). */
  of(key: string, value: T): T {
    const known = this.values.get(key);
    if (known !== undefined) return known;
    if (this.values.size < this.capacity) this.values.set(key, value);
    return value;
  }
}
