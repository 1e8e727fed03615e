/**
 * The core's `Meter` and `RequestTracer` on the OpenTelemetry API (`@herald/metrics/otel`): the
 * application's SDK (its MeterProvider and TracerProvider) decides where they go. Attribute sets
 * are made once per label set, so a hot-path update passes a kept object.
 */
import { context, SpanKind, SpanStatusCode, trace, TraceFlags, type Attributes, type Meter as OtelMeter, type SpanContext, type Tracer } from '@opentelemetry/api';
import type { Meter, MetricLabels, RequestTracer } from '@herald/core';

export interface OtelMeterOptions {
  /** A `node` attribute on every `herald_` data point (the SDK's resource is the usual place for it). */
  readonly node?: string;
}

/**
 * OpenTelemetry names counters without Prometheus's `_total`, which its Prometheus exporter adds
 * back: `herald_requests_total` is the instrument `herald_requests`.
 */
const instrumentName = (name: string): string => name.replace(/_total$/, '');

/**
 * `herald_` metrics as OpenTelemetry instruments of `meter`: counters, histograms with the
 * core's bucket bounds (as advice), and observable gauges read at collection.
 *
 * @example
 * import { metrics } from '@opentelemetry/api';
 * const herald = createHerald({ contract, handlers, meter: otelMeter(metrics.getMeter('herald')) });
 */
export function otelMeter(meter: OtelMeter, options: OtelMeterOptions = {}): Meter {
  const node = options.node;
  const attributes = (labels: MetricLabels): Attributes => Object.freeze(node === undefined ? { ...labels } : { ...labels, node });
  return {
    counter(definition) {
      const counter = meter.createCounter(instrumentName(definition.name), { description: definition.help, ...(definition.unit === undefined ? {} : { unit: definition.unit }) });
      return (labels) => {
        const kept = attributes(labels);
        return { add: (value) => counter.add(value, kept) };
      };
    },
    histogram(definition) {
      const histogram = meter.createHistogram(definition.name, {
        description: definition.help,
        ...(definition.unit === undefined ? {} : { unit: definition.unit }),
        advice: { explicitBucketBoundaries: [...definition.buckets] },
      });
      return (labels) => {
        const kept = attributes(labels);
        return { record: (value) => histogram.record(value, kept) };
      };
    },
    gauge(definition, read) {
      const kept = attributes({});
      meter
        .createObservableGauge(definition.name, { description: definition.help, ...(definition.unit === undefined ? {} : { unit: definition.unit }) })
        .addCallback((result) => result.observe(read(), kept));
    },
  };
}

export interface OtelTracerOptions {
  /** Put the principal's user id on each span as `enduser.id` (default false: spans often leave the organisation). */
  readonly principal?: boolean;
}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** The remote span a `traceparent` names (the core has checked its shape). */
function remoteParent(traceparent: string): SpanContext | undefined {
  const match = TRACEPARENT.exec(traceparent);
  if (match === null) return undefined;
  const [, traceId, spanId, flags] = match as unknown as [string, string, string, string];
  return { traceId, spanId, traceFlags: Number.parseInt(flags, 16) & TraceFlags.SAMPLED, isRemote: true };
}

/**
 * A span per application request (kind SERVER, named by its type), a child of the client's span
 * when the request carries a `traceparent`: `herald.request.type`, `herald.request.id`,
 * `herald.session.id`, `herald.response.code`, and `enduser.id` only with `principal: true`.
 * Answers of 500 and above set the span's status to error. The middleware and handler run in the
 * span's context: with a context manager registered (the Node SDK's), spans they start are its
 * children.
 *
 * @example
 * import { trace } from '@opentelemetry/api';
 * const herald = createHerald({ contract, handlers, tracer: otelTracer(trace.getTracer('herald')) });
 */
export function otelTracer(tracer: Tracer, options: OtelTracerOptions = {}): RequestTracer {
  const principal = options.principal === true;
  return {
    startRequest(info) {
      const parent = info.traceparent === undefined ? undefined : remoteParent(info.traceparent);
      const active = context.active();
      const attributes: Attributes = { 'herald.request.type': info.type, 'herald.request.id': info.id, 'herald.session.id': info.sessionId };
      if (principal && info.userId !== undefined) attributes['enduser.id'] = info.userId;
      const span = tracer.startSpan(info.type, { kind: SpanKind.SERVER, attributes }, parent === undefined ? active : trace.setSpanContext(active, parent));
      const within = trace.setSpan(active, span);
      return {
        run: (work) => context.with(within, work),
        end(code) {
          span.setAttribute('herald.response.code', code);
          if (code >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
          span.end();
        },
      };
    },
  };
}
