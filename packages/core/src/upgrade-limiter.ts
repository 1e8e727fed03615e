/**
 * Per-address token buckets for upgrade attempts, so one address cannot open connections
 * faster than `perSecond` (after a `burst`). Buckets are created on demand and forgotten by
 * the sweep once full again, so memory follows the number of recently active addresses.
 */
export interface UpgradeRateLimit {
  readonly perSecond: number;
  readonly burst: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

export class UpgradeLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(private readonly limit: UpgradeRateLimit) {}

  private refill(bucket: Bucket, now: number): void {
    bucket.tokens = Math.min(this.limit.burst, bucket.tokens + ((now - bucket.at) * this.limit.perSecond) / 1000);
    bucket.at = now;
  }

  /** Takes a token for `address`: 0 when allowed, otherwise the milliseconds until one is free. */
  take(address: string, now: number): number {
    let bucket = this.buckets.get(address);
    if (bucket === undefined) this.buckets.set(address, (bucket = { tokens: this.limit.burst, at: now }));
    else this.refill(bucket, now);
    if (bucket.tokens >= 1) {
      bucket.tokens--;
      return 0;
    }
    return Math.ceil(((1 - bucket.tokens) * 1000) / this.limit.perSecond);
  }

  /** Forgets addresses whose bucket has refilled completely. */
  prune(now: number): void {
    for (const [address, bucket] of this.buckets) {
      this.refill(bucket, now);
      if (bucket.tokens >= this.limit.burst) this.buckets.delete(address);
    }
  }

  get size(): number {
    return this.buckets.size;
  }
}
