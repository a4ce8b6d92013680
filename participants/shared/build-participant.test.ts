import { randomUUID } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createRedis } from '../../platform/redis.ts'
import { participantHarness, read, SERVICE_AUTHORIZATION } from '../../test/support/participant-harness.ts'
import { buildParticipant } from './build-participant.ts'

// What every participant gets from buildParticipant besides its routes: request metrics,
// security headers, and health and readiness probes (open to callers without a service token:
// load balancers and Prometheus carry none).

const harness = participantHarness()
let app: FastifyInstance

async function probeRoutes(app: FastifyInstance): Promise<void> {
  app.get<{ Params: { itemId: string } }>('/probe/items/:itemId', async (request) => ({ itemId: request.params.itemId }))
  app.post('/probe/items', async () => ({ created: true }))
}

beforeAll(async () => {
  app = await buildParticipant({ name: 'tour-catalog', schema: 'tour_catalog', routes: probeRoutes, db: harness.db, redis: null })
})
afterAll(async () => {
  await app?.close()
  await harness.close()
})

async function scrape(): Promise<string> {
  const response = await app.inject({ method: 'GET', url: '/metrics' })
  expect(response.statusCode).toBe(200)
  expect(response.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/)
  return response.body
}

/** The value of one series in Prometheus' text format, 0 when absent. */
function sample(text: string, name: string, labels: Record<string, string>): number {
  const wanted = Object.entries(labels).map(([key, value]) => `${key}="${value}"`)
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue
    const labelText = line.slice(name.length + 1, line.indexOf('}'))
    const present = labelText.split(',')
    if (wanted.every((pair) => present.includes(pair))) return Number(line.slice(line.lastIndexOf(' ') + 1))
  }
  return 0
}

describe('participant request metrics', () => {
  it('counts requests by method, route pattern and status, never by raw URL', async () => {
    const route = { method: 'GET', route: '/probe/items/:itemId', status: '200', service: 'tour-catalog' }
    const before = sample(await scrape(), 'http_requests_total', route)
    const ids = [randomUUID(), randomUUID(), randomUUID()]
    for (const id of ids) expect((await read(app, `/probe/items/${id}`)).statusCode).toBe(200)

    const text = await scrape()
    expect(sample(text, 'http_requests_total', route)).toBe(before + 3)
    expect(sample(text, 'http_request_duration_seconds_count', route)).toBe(before + 3)
    for (const id of ids) expect(text).not.toContain(id)
  })

  it('labels requests no route matched as "unmatched"', async () => {
    const labels = { method: 'GET', route: 'unmatched', status: '404' }
    const before = sample(await scrape(), 'http_requests_total', labels)
    const secret = `/nowhere/${randomUUID()}`
    expect((await read(app, secret)).statusCode).toBe(404)
    const text = await scrape()
    expect(sample(text, 'http_requests_total', labels)).toBe(before + 1)
    expect(text).not.toContain(secret)
  })

  it('records a refused command under its route and the status it got', async () => {
    const labels = { method: 'POST', route: '/probe/items', status: '400' }
    const before = sample(await scrape(), 'http_requests_total', labels)
    // No Idempotency-Key: refused before the handler runs.
    const refused = await app.inject({ method: 'POST', url: '/probe/items', payload: {}, headers: { authorization: SERVICE_AUTHORIZATION } })
    expect(refused.statusCode).toBe(400)
    expect(sample(await scrape(), 'http_requests_total', labels)).toBe(before + 1)
  })

  it('exposes the process metrics under the service\'s prefix', async () => {
    const text = await scrape()
    expect(text).toMatch(/^tour_catalog_process_cpu_seconds_total\{service="tour-catalog"\} /m)
    expect(text).toContain('# TYPE http_request_duration_seconds histogram')
  })
})

describe('participant security headers', () => {
  it('sends helmet\'s headers on every answer, errors included', async () => {
    for (const url of ['/health', '/no-such-route']) {
      const response = await app.inject({ method: 'GET', url })
      expect(response.headers['x-content-type-options']).toBe('nosniff')
      expect(response.headers['x-frame-options']).toBe('SAMEORIGIN')
      expect(response.headers['strict-transport-security']).toMatch(/max-age=/)
      expect(response.headers['content-security-policy']).toContain("default-src 'self'")
    }
  })
})

describe('participant readiness', () => {
  it('is ready while Postgres is reachable and Redis is not used', async () => {
    const response = await app.inject({ method: 'GET', url: '/ready' })
    expect(response.statusCode).toBe(200)
    expect(response.json()).toEqual({ status: 'ready', postgres: 'up', redis: 'disabled' })
  })

  it('answers 503 in the contract\'s error shape, saying what is down, while Redis is unreachable', async () => {
    // Nothing listens on port 1.
    const deadRedis = createRedis({ url: 'redis://127.0.0.1:1' })
    const offline = await buildParticipant({ name: 'loyalty', schema: 'loyalty', routes: probeRoutes, db: harness.db, redis: deadRedis })
    try {
      const response = await offline.inject({ method: 'GET', url: '/ready' })
      expect(response.statusCode).toBe(503)
      expect(response.json()).toEqual({
        status: 'unavailable', postgres: 'up', redis: 'down',
        error: { code: 'SERVICE_UNAVAILABLE', message: 'Redis is unreachable' },
      })
    } finally {
      await offline.close()
      deadRedis.disconnect()
    }
  })
})
