export { metricsHandler, prometheusMetrics, type PrometheusMetrics, type PrometheusMetricsOptions } from './prometheus.ts';
