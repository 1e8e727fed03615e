/**
 * The core's `Meter` on prom-client's registry. prom-client's own children hash their labels on
 * every `inc`, which on a per-frame path costs more than the work it counts; so each `herald_`
 * family here is a small collector of its own (a number, or bucket counts, per label set, updated
 * in place) that the registry reads at scrape time and prints with everything else it holds.
 */
import type { CounterInstrument, HistogramInstrument, Meter, MetricLabels } from '@herald/core';
import { Registry, type Metric } from 'prom-client';

export interface PrometheusMetricsOptions {
  /** Where the `herald_` families register (default: a registry of their own). */
  readonly registry?: Registry;
  /** A `node` label on every `herald_` series, for many nodes behind one Prometheus. */
  readonly node?: string;
}

/** A meter for `createHerald` and the registry it fills. */
export interface PrometheusMetrics {
  readonly meter: Meter;
  readonly registry: Registry;
}

class Count implements CounterInstrument {
  value = 0;

  constructor(readonly labels: MetricLabels) {}

  add(value: number): void {
    this.value += value;
  }
}

class Distribution implements HistogramInstrument {
  /** Observations per bucket (not cumulative); the last one is `+Inf`. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(
    readonly labels: MetricLabels,
    private readonly bounds: readonly number[],
  ) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  record(value: number): void {
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > (bounds[i] as number)) i++;
    this.counts[i] = (this.counts[i] as number) + 1;
    this.sum += value;
    this.count++;
  }
}

/** One sample line: `metricName` (default the family's name), its labels and value. */
interface Sample {
  readonly metricName?: string;
  readonly labels: MetricLabels;
  readonly value: number;
}

/** What `get()` gives the registry: prom-client prints and aggregates any metric of this shape. */
interface Exposition {
  readonly name: string;
  readonly help: string;
  readonly type: string;
  readonly aggregator: string;
  readonly values: readonly Sample[];
}

/** What the registry asks of a metric (prom-client reads collectors by this shape). */
abstract class Family<T> {
  readonly aggregator = 'sum';
  protected readonly series: T[] = [];

  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: 'counter' | 'gauge' | 'histogram',
  ) {}

  abstract get(): Promise<Exposition>;

  reset(): void {
    this.series.length = 0;
  }
}

class CounterFamily extends Family<Count> {
  add(labels: MetricLabels): Count {
    const count = new Count(labels);
    this.series.push(count);
    return count;
  }

  async get(): Promise<Exposition> {
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values: this.series.map((s) => ({ value: s.value, labels: s.labels })) };
  }
}

class HistogramFamily extends Family<Distribution> {
  constructor(
    name: string,
    help: string,
    private readonly bounds: readonly number[],
  ) {
    super(name, help, 'histogram');
  }

  add(labels: MetricLabels): Distribution {
    const distribution = new Distribution(labels, this.bounds);
    this.series.push(distribution);
    return distribution;
  }

  async get(): Promise<Exposition> {
    const values: Sample[] = [];
    for (const s of this.series) {
      let cumulative = 0;
      for (let i = 0; i <= this.bounds.length; i++) {
        cumulative += s.counts[i] as number;
        const le = i < this.bounds.length ? String(this.bounds[i]) : '+Inf';
        values.push({ metricName: `${this.name}_bucket`, value: cumulative, labels: { ...s.labels, le } });
      }
      values.push({ metricName: `${this.name}_sum`, value: s.sum, labels: s.labels });
      values.push({ metricName: `${this.name}_count`, value: s.count, labels: s.labels });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}

class GaugeFamily extends Family<never> {
  constructor(
    name: string,
    help: string,
    private readonly labels: MetricLabels,
    private readonly read: () => number,
  ) {
    super(name, help, 'gauge');
  }

  async get(): Promise<Exposition> {
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values: [{ value: this.read(), labels: this.labels }] };
  }
}

/**
 * `herald_` metrics in a prom-client registry. Serve it with `metricsHandler`; the registry may
 * hold the application's own prom-client metrics too (pass it as `registry`).
 *
 * @example
 * const metrics = prometheusMetrics({ node: 'node-1' });
 * const herald = createHerald({ contract, handlers, meter: metrics.meter });
 * attachFetch(app, '/metrics', metricsHandler(metrics.registry));
 */
export function prometheusMetrics(options: PrometheusMetricsOptions = {}): PrometheusMetrics {
  const registry = options.registry ?? new Registry();
  const node = options.node;
  const withNode = (labels: MetricLabels): MetricLabels => (node === undefined ? labels : { ...labels, node });
  const register = <F extends Family<unknown>>(family: F): F => {
    registry.registerMetric(family as unknown as Metric);
    return family;
  };
  const meter: Meter = {
    counter(definition) {
      const family = register(new CounterFamily(definition.name, definition.help, 'counter'));
      return (labels) => family.add(withNode(labels));
    },
    histogram(definition) {
      const family = register(new HistogramFamily(definition.name, definition.help, definition.buckets));
      return (labels) => family.add(withNode(labels));
    },
    gauge(definition, read) {
      register(new GaugeFamily(definition.name, definition.help, withNode({}), read));
    },
  };
  return { meter, registry };
}

/**
 * A fetch handler that answers with the registry in Prometheus's text format; mount it on any
 * adapter (`attachFetch` on uWS, a Hono route).
 *
 * @example
 * app.get('/metrics', (c) => handler(c.req.raw)); // Hono
 */
export function metricsHandler(registry: Registry): (request: Request) => Promise<Response> {
  return async (request) => {
    if (request.method !== 'GET' && request.method !== 'HEAD') return new Response('method not allowed', { status: 405, headers: { allow: 'GET, HEAD' } });
    const text = await registry.metrics();
    return new Response(request.method === 'HEAD' ? null : text, { headers: { 'content-type': registry.contentType, 'cache-control': 'no-store' } });
  };
}
