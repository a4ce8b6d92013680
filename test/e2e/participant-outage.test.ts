import { describe, expect, it } from 'vitest'
import { type StepRecord } from '../../orchestrator/src/engine/saga-instance.ts'
import { tourBookingSaga } from '../../orchestrator/src/sagas/tour-booking/tour-booking.saga.ts'
import {
  bookUntilAnswered, checkInvariants, createTours, newRun, spawnOrchestrator, useParticipantFleet, TOKENS,
} from './support/booking-fleet.ts'

// A participant down for longer than a step's retry budget, with real processes: the saga
// turns back, its compensation runs out of budget as well (the same participant is needed to
// settle the step it never heard of), and it parks as COMPENSATION_FAILED for an operator.
// Once the participant is back, `retry` finishes the compensation.

const { db, fleet } = useParticipantFleet()

describe('the booking service down longer than createBooking may retry', () => {
  it('parks the saga as COMPENSATION_FAILED, and retry rolls it back once the service is back', async () => {
    const run = newRun('outage')
    const [tour] = await createTours(fleet(), [{ capacity: 12, price: 80 }])
    const orchestrator = await spawnOrchestrator(fleet())
    try {
      await fleet().stop('booking')
      const started = await bookUntilAnswered(() => orchestrator.url, {
        key: run.key(1), body: { tourId: tour!.tourId, userId: run.userId(1), numberOfSpots: 5, paymentMethod: 'pm_card_visa' },
      }, { waitMs: 0, deadline: Date.now() + 20_000 })
      const sagaId = started.body.sagaId!
      const read = async () => {
        const response = await fetch(`${orchestrator.url}/api/orchestrator/sagas/${sagaId}`, { headers: { authorization: `Bearer ${TOKENS.support}` } })
        return (await response.json()) as { status: string; state: string; error?: { code: string; step: string }; steps: StepRecord[] }
      }

      // createBooking: 3 attempts, then the saga turns back. Settling that unknown createBooking
      // needs the booking service too: 8 more attempts over ~8–16 s, then it parks for an operator.
      await expect.poll(async () => (await read()).status, { timeout: 40_000, interval: 500 }).toBe('COMPENSATION_FAILED')
      const parked = await read()
      expect(parked.error).toMatchObject({ code: 'PARTICIPANT_UNAVAILABLE', step: 'createBooking' })
      expect(parked.steps).toContainEqual(expect.objectContaining({ name: 'createBooking', phase: 'forward', status: 'UNKNOWN' }))
      // Every attempt its policy allows, forward then settling: no more, no fewer.
      const createBooking = tourBookingSaga.steps.find((step) => step.name === 'createBooking')!
      expect(parked.steps.find((s) => s.name === 'createBooking' && s.phase === 'forward')!.attempts)
        .toBe(createBooking.retry.maxAttempts + createBooking.compensationRetry.maxAttempts)
      // The spots stay held while the saga is parked: nothing was released behind its back.
      expect((await db.tour.findUniqueOrThrow({ where: { id: tour!.tourId } })).availableSpots).toBe(12 - 5)

      await fleet().start('booking')
      const retried = await fetch(`${orchestrator.url}/api/orchestrator/sagas/${sagaId}/retry`, { method: 'POST', headers: { authorization: `Bearer ${TOKENS.operator}` } })
      expect(retried.status).toBe(202)
      await expect.poll(async () => (await read()).status, { timeout: 30_000, interval: 250 }).toBe('FAILED')

      const failed = await read()
      expect(failed.error).toMatchObject({ code: 'PARTICIPANT_UNAVAILABLE', step: 'createBooking' })
      expect((await db.tour.findUniqueOrThrow({ where: { id: tour!.tourId } })).availableSpots).toBe(12)
      expect(await db.booking.count({ where: { userId: run.userId(1), status: 'PENDING' } })).toBe(0)
      const report = await checkInvariants(db, { prefix: run.prefix, keys: [run.key(1)], tours: [tour!] })
      expect(report.violations).toEqual([])
      console.log(`[outage] saga ${sagaId}: COMPENSATION_FAILED while booking was down; after retry: ${failed.status} ` +
        `(${failed.steps.map((s) => `${s.name}/${s.phase}:${s.status}`).join(', ')})`)
    } finally {
      await fleet().start('booking')
      await orchestrator.stop()
    }
  })
})
