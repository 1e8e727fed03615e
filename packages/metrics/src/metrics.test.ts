/**
 * The bindings over real sockets: a Herald server on uWS, real clients, and what prom-client's
 * registry and OpenTelemetry's SDK (in-memory exporters) then hold.
 */
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { context } from '@opentelemetry/api';
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader, type HistogramMetricData, type MetricData } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { createHerald, defineContract, type Meter, type RequestTracer } from '@herald/core';
import type { StandardSchemaV1 } from '@standard-schema/spec';
import { connect, eventually, type Tester } from '@herald/testing';
import { createConformanceHerald } from '@herald/testing/conformance';
import { serveHerald, type HeraldUwsServer } from '@herald/uws';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { afterEach, expect, it } from 'vitest';
import { metricsHandler, prometheusMetrics } from './index.ts';
import { otelMeter, otelTracer } from './otel.ts';

const servers: HeraldUwsServer[] = [];
const clients: Tester[] = [];
afterEach(async () => {
  for (const client of clients.splice(0)) client.drop();
  for (const server of servers.splice(0)) await server.close();
});

async function serve(engine: { meter?: Meter; tracer?: RequestTracer }): Promise<Tester> {
  const server = await serveHerald(createConformanceHerald({}, engine), { port: 0, host: '127.0.0.1', drainMs: 0 });
  servers.push(server);
  const client = await connect(`ws://127.0.0.1:${server.port}/ws`, { token: 'user:ann' });
  clients.push(client);
  return client;
}

/** Three answered echoes, one refused body, one type the contract does not have. */
async function traffic(client: Tester): Promise<void> {
  for (const text of ['a', 'b', 'c']) expect((await client.request('conf.Echo', { text })).code).toBe(200);
  expect((await client.request('conf.Echo', { text: 7 })).code).toBe(400);
  expect((await client.request('made.Up', {})).code).toBe(404);
}

it('prom-client: each series counts in place, and the text exposition parses', async () => {
  const metrics = prometheusMetrics({ node: 'n1' });
  await traffic(await serve({ meter: metrics.meter }));
  const json = await metrics.registry.getMetricsAsJSON();
  const latency = json.find((m) => m.name === 'herald_request_duration_seconds');
  const count = (type: string, code: string) =>
    latency?.values.find((v) => (v as { metricName?: string }).metricName === 'herald_request_duration_seconds_count' && v.labels['type'] === type && v.labels['code'] === code)?.value;
  expect([count('conf.Echo', '200'), count('conf.Echo', '400'), count('unknown', '404')]).toEqual([3, 1, 1]);
  const inf = latency?.values.find((v) => v.labels['type'] === 'conf.Echo' && v.labels['code'] === '200' && v.labels['le'] === '+Inf');
  expect(inf?.value).toBe(3);

  const response = await metricsHandler(metrics.registry)(new Request('http://localhost/metrics'));
  expect(response.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
  const families = parsePrometheusTextFormat(await response.text());
  const requests = families.find((f) => f.name === 'herald_requests_total');
  expect(requests?.type).toBe('COUNTER');
  expect(requests?.metrics.find((m) => m.labels?.['type'] === 'conf.Echo' && m.labels['code'] === '200')?.labels).toEqual({ type: 'conf.Echo', code: '200', node: 'n1' });
  expect(families.find((f) => f.name === 'herald_sessions')?.metrics[0]?.value).toBe('1');
  expect((await metricsHandler(metrics.registry)(new Request('http://localhost/metrics', { method: 'POST' }))).status).toBe(405);
});

it('OpenTelemetry: counters, histograms with the core buckets, and gauges read at collection', async () => {
  const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 60_000 });
  const provider = new MeterProvider({ readers: [reader] });
  await traffic(await serve({ meter: otelMeter(provider.getMeter('herald'), { node: 'n1' }) }));
  await reader.forceFlush();
  const all: MetricData[] = exporter.getMetrics().flatMap((r) => r.scopeMetrics.flatMap((s) => s.metrics));
  const named = (name: string) => all.filter((m) => m.descriptor.name === name).at(-1);
  const requests = named('herald_requests')?.dataPoints.find((p) => p.attributes['type'] === 'conf.Echo' && p.attributes['code'] === '200');
  expect(requests?.value).toBe(3);
  expect(requests?.attributes['node']).toBe('n1');
  const latency = named('herald_request_duration_seconds') as HistogramMetricData | undefined;
  expect(latency?.descriptor.unit).toBe('s');
  const echoes = latency?.dataPoints.find((p) => p.attributes['type'] === 'conf.Echo' && p.attributes['code'] === '200');
  expect(echoes?.value.count).toBe(3);
  expect(echoes?.value.buckets.boundaries[0]).toBe(0.0005);
  expect(named('herald_sessions')?.dataPoints[0]?.value).toBe(1);
  expect(named('herald_frames_received')?.dataPoints.find((p) => p.attributes['transport'] === 'websocket')?.value).toBeGreaterThanOrEqual(6);
  await provider.shutdown();
});

it('OpenTelemetry: a span per request, the child of the client traceparent, with the principal only when asked', async () => {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const client = await serve({ tracer: otelTracer(provider.getTracer('herald'), { principal: true }) });
  const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
  const parentId = '00f067aa0ba902b7';
  client.send({ kind: 'req', id: 'traced', type: 'conf.Echo', body: { text: 'x' }, traceparent: `00-${traceId}-${parentId}-01` });
  client.send({ kind: 'req', id: 'bad', type: 'conf.Echo', body: { text: 1 } });
  client.send({ kind: 'req', id: 'wrong', type: 'conf.Echo', body: { text: 'x' }, traceparent: `00-${traceId}-${parentId}` });
  await eventually(() => expect(exporter.getFinishedSpans().length).toBe(2), 15_000);
  const [traced, bad] = ['traced', 'bad'].map((id) => exporter.getFinishedSpans().find((s) => s.attributes['herald.request.id'] === id));
  expect(traced?.name).toBe('conf.Echo');
  expect(traced?.spanContext().traceId).toBe(traceId);
  expect(traced?.parentSpanContext?.spanId).toBe(parentId);
  expect(traced?.attributes).toMatchObject({ 'herald.request.type': 'conf.Echo', 'herald.response.code': 200, 'enduser.id': 'ann' });
  expect(typeof traced?.attributes['herald.session.id']).toBe('string');
  // No traceparent: a root span of its own trace.
  expect(bad?.parentSpanContext).toBeUndefined();
  expect(bad?.spanContext().traceId).not.toBe(traceId);
  expect(bad?.attributes['herald.response.code']).toBe(400);
  // A malformed traceparent is answered 400 invalid_envelope before any span starts.
  expect((await client.request('conf.Echo', { text: 'y' })).code).toBe(200);
  await eventually(() => expect(exporter.getFinishedSpans().length).toBe(3), 15_000);
  await provider.shutdown();
});

it('without principal: true, spans do not name the user', async () => {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const client = await serve({ tracer: otelTracer(provider.getTracer('herald')) });
  expect((await client.request('conf.Echo', { text: 'x' })).code).toBe(200);
  await eventually(() => expect(exporter.getFinishedSpans().length).toBe(1), 15_000);
  expect(exporter.getFinishedSpans()[0]?.attributes['enduser.id']).toBeUndefined();
  await provider.shutdown();
});

it('OpenTelemetry: a span the handler starts, after an await, is a child of the request span', async () => {
  const manager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(manager);
  try {
    const exporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
    const tracer = provider.getTracer('app');
    const any: StandardSchemaV1<unknown, unknown> = { '~standard': { version: 1, vendor: 'test', validate: (value) => ({ value }) } };
    const herald = createHerald({
      contract: defineContract({ requests: { 'app.Query': { request: any, response: any } }, notifications: {} }),
      upgradeRateLimit: false,
      tracer: otelTracer(provider.getTracer('herald')),
      handlers: {
        'app.Query': async () => {
          await new Promise((resolve) => setTimeout(resolve, 5));
          tracer.startSpan('db.query').end();
          return {};
        },
      },
    });
    const server = await serveHerald(herald, { port: 0, host: '127.0.0.1', drainMs: 0 });
    servers.push(server);
    const client = await connect(`ws://127.0.0.1:${server.port}/ws`);
    clients.push(client);
    expect((await client.request('app.Query', {})).code).toBe(200);
    await eventually(() => expect(exporter.getFinishedSpans().length).toBe(2), 15_000);
    const request = exporter.getFinishedSpans().find((s) => s.name === 'app.Query');
    const query = exporter.getFinishedSpans().find((s) => s.name === 'db.query');
    expect(query?.parentSpanContext?.spanId).toBe(request?.spanContext().spanId);
    expect(query?.spanContext().traceId).toBe(request?.spanContext().traceId);
    await provider.shutdown();
  } finally {
    context.disable();
  }
});
