/**
 * The meter the server reports through. Core knows no metrics library: a binding
 * (`@herald/metrics` for prom-client and OpenTelemetry) implements `Meter`, and the server
 * asks it once per label set for an instrument it then updates in place.
 */

/** Label values of one series, by label name. */
export type MetricLabels = Readonly<Record<string, string>>;

/** A monotonic count. */
export interface CounterInstrument {
  add(value: number): void;
}

/** A distribution of observed values (seconds, sizes). */
export interface HistogramInstrument {
  record(value: number): void;
}

/** What names and documents a metric family. */
export interface MetricDefinition {
  /** Prometheus-style: `herald_` prefix, snake case, `_total` for counters, base units. */
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly string[];
  /** UCUM unit for OpenTelemetry (`s`, `By`, `1`). */
  readonly unit?: string;
}

export interface HistogramDefinition extends MetricDefinition {
  /** Upper bounds of the buckets. */
  readonly buckets: readonly number[];
}

/**
 * A metrics backend. The server calls each factory once per family at start, and the
 * function it returns once per distinct label set: the instrument it gets is kept and
 * updated in place, so a binding should return a pre-bound child (prom-client's `labels()`).
 *
 * @example
 * const meter: Meter = {
 *   counter: (definition) => (labels) => ({ add: (n) => console.log(definition.name, labels, n) }),
 *   histogram: (definition) => (labels) => ({ record: (v) => console.log(definition.name, labels, v) }),
 *   gauge: (definition, read) => void setInterval(() => console.log(definition.name, read()), 10_000),
 * };
 * createHerald({ contract, handlers, meter });
 */
export interface Meter {
  counter(definition: MetricDefinition): (labels: MetricLabels) => CounterInstrument;
  histogram(definition: HistogramDefinition): (labels: MetricLabels) => HistogramInstrument;
  /** A value read when metrics are collected (a scrape), not kept up to date by the server. */
  gauge(definition: MetricDefinition & { readonly labelNames: readonly [] }, read: () => number): void;
}

/** Span of one request, as a tracing binding sees it. */
export interface RequestSpan {
  /** The request was answered with `code` (its HTTP-like status). */
  end(code: number): void;
  /** Runs the middleware and handler inside the span's context, so that spans they start are its children. */
  run?<T>(work: () => T): T;
}

/** What a tracer is told of a request when it starts. */
export interface RequestTraceInfo {
  readonly type: string;
  readonly id: string;
  readonly sessionId: string;
  readonly userId: string | undefined;
  /** The W3C `traceparent` the client sent in the envelope, if any. */
  readonly traceparent: string | undefined;
}

/**
 * Starts a span per application request (`@herald/metrics`'s OpenTelemetry binding).
 *
 * @example
 * createHerald({ contract, handlers, tracer: { startRequest: (info) => ({ end: (code) => log(info.type, code) }) } });
 */
export interface RequestTracer {
  startRequest(info: RequestTraceInfo): RequestSpan;
}
