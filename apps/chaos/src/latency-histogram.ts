/** Delivery latencies in whole milliseconds, kept as counts so a long run costs no memory per message. */

/** Latencies above this land in the last bucket (reported as "at least"). */
const MAX_MS = 600_000;

export class LatencyHistogram {
  private readonly counts = new Uint32Array(MAX_MS + 1);
  count = 0;
  max = 0;

  record(ms: number, times = 1): void {
    const bucket = Math.min(MAX_MS, Math.max(0, Math.round(ms)));
    this.counts[bucket] = (this.counts[bucket] as number) + times;
    this.count += times;
    this.max = Math.max(this.max, bucket);
  }

  /** The non-empty buckets as `[ms, count]`, to send to another process and `record` there. */
  entries(): [number, number][] {
    const out: [number, number][] = [];
    for (let ms = 0; ms <= this.max; ms++) if ((this.counts[ms] as number) > 0) out.push([ms, this.counts[ms] as number]);
    return out;
  }

  /** The smallest latency that `fraction` of the deliveries did not exceed (0 when there were none). */
  percentile(fraction: number): number {
    const rank = Math.ceil(this.count * fraction);
    let seen = 0;
    for (let ms = 0; ms <= this.max; ms++) {
      seen += this.counts[ms] as number;
      if (seen >= rank && seen > 0) return ms;
    }
    return this.max;
  }
}
