import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

export interface RequestMetricsOptions {
  /** Service name: the `service` label on every series, and the prefix of the process metrics. */
  service: string
}

declare module 'fastify' {
  interface FastifyInstance {
    /** This app's Prometheus registry (one per app, so several apps can share a process). */
    metricsRegistry: Registry
  }
}

/** Label for requests no route matched: their raw URLs would each become a series of their own. */
export const UNMATCHED_ROUTE = 'unmatched'

/**
 * Request metrics for a participant, served at `GET /metrics` in Prometheus' text format:
 * `http_requests_total` and `http_request_duration_seconds` by method, route and status, plus
 * the default process metrics (prefixed `<service>_`).
 *
 * The route label is the route's pattern (`/api/tours/:tourId`), never the URL: ids in URLs
 * would give every request its own series.
 */
async function requestMetricsPlugin(app: FastifyInstance, options: RequestMetricsOptions): Promise<void> {
  const registry = new Registry()
  registry.setDefaultLabels({ service: options.service })
  collectDefaultMetrics({ register: registry, prefix: `${options.service.replace(/[^a-zA-Z0-9_]/g, '_')}_` })
  const labelNames = ['method', 'route', 'status'] as const
  const requests = new Counter({ name: 'http_requests_total', help: 'HTTP requests answered', labelNames, registers: [registry] })
  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'Time from receiving a request to sending its answer',
    labelNames,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  })
  app.decorate('metricsRegistry', registry)

  app.addHook('onResponse', async (request, reply) => {
    const labels = { method: request.method, route: request.routeOptions.url ?? UNMATCHED_ROUTE, status: String(reply.statusCode) }
    requests.inc(labels)
    duration.observe(labels, reply.elapsedTime / 1000)
  })

  app.get('/metrics', async (_request, reply) => reply.type(registry.contentType).send(await registry.metrics()))
}

export default fp(requestMetricsPlugin, { name: 'request-metrics', fastify: '5.x' })
