/**
 * A session's topics. Most sessions hold one (`$all`, or the one topic of their page), and a
 * `Set` costs about 180 bytes of heap even for one entry: so the first topic is a field, and a
 * `Set` is made only for a second one. At 100,000 sessions that is 18 MB.
 */
export class TopicSet implements Iterable<string> {
  private one: string | undefined = undefined;
  private many: Set<string> | null = null;

  get size(): number {
    return this.many !== null ? this.many.size : this.one === undefined ? 0 : 1;
  }

  has(topic: string): boolean {
    return this.many !== null ? this.many.has(topic) : this.one === topic;
  }

  add(topic: string): void {
    if (this.many !== null) this.many.add(topic);
    else if (this.one === undefined) this.one = topic;
    else if (this.one !== topic) {
      this.many = new Set([this.one, topic]);
      this.one = undefined;
    }
  }

  /** True when the topic was there. */
  delete(topic: string): boolean {
    if (this.many !== null) return this.many.delete(topic);
    if (this.one !== topic) return false;
    this.one = undefined;
    return true;
  }

  *[Symbol.iterator](): Iterator<string> {
    if (this.many !== null) yield* this.many;
    else if (this.one !== undefined) yield this.one;
  }
}
