/**
 * The core's `Meter` on prom-client: each label set is bound once (`labels()`), so the server's
 * hot path increments a prom-client child in place. Gauges are read at scrape time.
 */
import type { CounterInstrument, HistogramInstrument, Meter, MetricLabels } from '@herald/core';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

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

/**
 * `herald_` metrics on prom-client. Serve the registry with `metricsHandler`.
 *
 * @example
 * const metrics = prometheusMetrics({ node: 'node-1' });
 * const herald = createHerald({ contract, handlers, meter: metrics.meter });
 * attachFetch(app, '/metrics', metricsHandler(metrics.registry));
 */
export function prometheusMetrics(options: PrometheusMetricsOptions = {}): PrometheusMetrics {
  const registry = options.registry ?? new Registry();
  const node = options.node;
  const labelNames = (names: readonly string[]): string[] => (node === undefined ? [...names] : [...names, 'node']);
  const withNode = (labels: MetricLabels): MetricLabels => (node === undefined ? labels : { ...labels, node });
  const meter: Meter = {
    counter(definition) {
      const family = new Counter({ name: definition.name, help: definition.help, labelNames: labelNames(definition.labelNames), registers: [registry] });
      return (labels): CounterInstrument => {
        const child = family.labels(withNode(labels));
        // Zero from the start: a rate over a series that appears late misses its first increments.
        child.inc(0);
        return { add: (value) => child.inc(value) };
      };
    },
    histogram(definition) {
      const family = new Histogram({
        name: definition.name,
        help: definition.help,
        labelNames: labelNames(definition.labelNames),
        buckets: [...definition.buckets],
        registers: [registry],
      });
      return (labels): HistogramInstrument => {
        const child = family.labels(withNode(labels));
        return { record: (value) => child.observe(value) };
      };
    },
    gauge(definition, read) {
      const labels = withNode({});
      new Gauge({
        name: definition.name,
        help: definition.help,
        labelNames: labelNames([]),
        registers: [registry],
        collect() {
          this.set(labels, read());
        },
      });
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
