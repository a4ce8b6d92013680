import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createRedis, type Redis } from '../../../../platform/redis.ts'
import { command, isoDateInDays } from '../../../../test/support/participant-harness.ts'
import { startSystem, TOKENS, type TestSystem } from '../../../../test/support/system.ts'

/** Reads server-sent `saga` events until `until` accepts one (or the time runs out). */
async function watch(url: string, until: (saga: { status: string; version: number }) => boolean, timeoutMs = 10_000) {
  const controller = new AbortController()
  const timer = setTimeout(() => controller.abort(), timeoutMs)
  const seen: { status: string; version: number }[] = []
  try {
    const response = await fetch(url, { headers: { authorization: TOKENS.support }, signal: controller.signal })
    expect(response.headers.get('content-type')).toMatch(/text\/event-stream/)
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader()
    let buffer = ''
    for (;;) {
      const { value, done } = await reader.read()
      if (done) break
      buffer += value
      for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
        const message = buffer.slice(0, end)
        buffer = buffer.slice(end + 2)
        const data = message.split('\n').find((line) => line.startsWith('data: '))
        if (!message.startsWith('event: saga') || !data) continue
        const saga = JSON.parse(data.slice(6))
        seen.push(saga)
        if (until(saga)) return seen
      }
    }
  } catch (error) {
    if (!controller.signal.aborted) throw error
  } finally {
    clearTimeout(timer)
    controller.abort()
  }
  return seen
}

describe.each([
  { name: 'with Redis (pub/sub)', deadRedis: false },
  { name: 'with Redis down (polling Postgres)', deadRedis: true },
])('live saga updates $name', ({ deadRedis }) => {
  let system: TestSystem
  let base: string
  let redis: Redis | undefined

  beforeAll(async () => {
    redis = deadRedis ? createRedis({ url: 'redis://127.0.0.1:1' }) : undefined
    system = await startSystem(redis ? { orchestrator: { redis } } : {})
    base = await system.orchestrator.listen({ port: 0, host: '127.0.0.1' })
  })
  afterAll(async () => {
    await system?.close()
    redis?.disconnect()
  })

  it('streams the saga view and then each transition until it completes', async () => {
    const tour = (await command(system.participant('tour-catalog'), 'POST', '/api/tours', {
      name: 'Live tour', date: isoDateInDays(20), capacity: 5, price: 10, currency: 'EUR', cancellationPolicy: { minDays: 1, feePercent: 0 },
    })).json()
    // The payment answers 503 a few times, so the saga is still running when the page opens.
    system.inject({ participant: 'payment', method: 'POST', route: '/api/payments', status: 503, times: 3 })
    const started = await system.orchestrator.inject({
      method: 'POST', url: '/api/orchestrator/bookings?wait=0',
      headers: { authorization: TOKENS.client, 'idempotency-key': randomUUID() },
      payload: { tourId: tour.tourId, userId: `live-${randomUUID().slice(0, 8)}`, numberOfSpots: 1, paymentMethod: 'pm_card_visa' },
    })
    const seen = await watch(`${base}/api/orchestrator/sagas/${started.json().sagaId}/events`, (saga) => saga.status === 'COMPLETED')
    expect(seen.at(-1)?.status).toBe('COMPLETED')
    expect(seen.length).toBeGreaterThan(1)
    const versions = seen.map((s) => s.version)
    expect([...versions].sort((a, b) => a - b)).toEqual(versions)
    expect(new Set(versions).size).toBe(versions.length)
    system.clearFaults()
  })
})
