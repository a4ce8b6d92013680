import { setTimeout as sleep } from 'node:timers/promises'
import { describe, expect, it } from 'vitest'
import { freePort, type RunningService, signalService } from '../support/processes.ts'
import {
  type Answer, bookUntilAnswered, type BookingRequest, checkInvariants, createTours, inPool, LEASE_TTL_MS, newRun,
  spawnOrchestrator, useParticipantFleet, TOKENS, unsettledCount,
} from './support/booking-fleet.ts'

// The orchestrator dies (kill -9) or freezes (SIGSTOP) in the middle of its sagas, with real
// processes on the real Postgres and Redis. Nothing may be lost or done twice: every saga
// ends COMPLETED or FAILED, every spot and every cent is accounted for.

const { db, fleet } = useParticipantFleet()

/** `count` bookings of 1–3 spots over `tours`, about one in ten with a card that is declined. */
function bookingRequests(run: ReturnType<typeof newRun>, tours: { tourId: string }[], count: number): BookingRequest[] {
  return Array.from({ length: count }, (_, i) => ({
    key: run.key(i),
    body: {
      tourId: tours[i % tours.length]!.tourId,
      userId: run.userId(i),
      numberOfSpots: 1 + Math.floor(Math.random() * 3),
      paymentMethod: Math.random() < 0.1 ? 'pm_card_chargeDeclined' : 'pm_card_visa',
    },
  }))
}

/** Every answer a client got is one the contract allows, and one key always named one saga. */
function expectContractAnswers(answers: Answer[]) {
  for (const answer of answers) {
    expect([201, 202, 422], JSON.stringify(answer.body)).toContain(answer.status)
    expect(answer.body.sagaId).toMatch(/^[0-9a-f-]{36}$/)
  }
}

async function waitUntilSettled(prefix: string, timeout = 60_000) {
  await expect.poll(() => unsettledCount(db, prefix), { timeout, interval: 250 }).toBe(0)
}

const until = async (condition: () => boolean, timeoutMs: number) => {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await sleep(10)
  }
}

describe('an orchestrator killed again and again under load', () => {
  it('loses no booking and does nothing twice: 200 bookings at concurrency 20, kill -9 three times', async () => {
    const began = Date.now()
    const run = newRun('chaos')
    const tours = await createTours(fleet(), Array.from({ length: 4 }, () => ({ capacity: 60, price: 45.5 })))
    const requests = bookingRequests(run, tours, 200)
    const port = await freePort()
    let orchestrator = await spawnOrchestrator(fleet(), { port })

    // Three kills at random moments, spread over the run: once a random number of bookings
    // have been answered, plus a random fraction of a second.
    let answered = 0
    let inFlight = 0
    const thresholds = [[15, 60], [75, 120], [135, 170]].map(([low, high]) => low! + Math.floor(Math.random() * (high! - low!)))
    const kills: { afterAnswers: number; requestsInFlight: number; downMs: number }[] = []
    const chaos = (async () => {
      for (const threshold of thresholds) {
        await until(() => answered >= threshold, 120_000)
        await sleep(Math.random() * 150)
        const kill = { afterAnswers: answered, requestsInFlight: inFlight, downMs: 0 }
        const killedAt = Date.now()
        await orchestrator.stop('SIGKILL')
        orchestrator = await spawnOrchestrator(fleet(), { port })
        kills.push({ ...kill, downMs: Date.now() - killedAt })
      }
    })()

    const deadline = Date.now() + 150_000
    const answers = await inPool(requests, 20, async (request) => {
      inFlight++
      const answer = await bookUntilAnswered(() => orchestrator.url, request, { deadline })
      inFlight--
      answered++
      return answer
    })
    await chaos
    const answeredAfterMs = Date.now() - began

    expect(kills).toHaveLength(3)
    // Each kill hit the orchestrator in the middle of the run, with client requests open.
    for (const kill of kills) expect(kill.requestsInFlight).toBeGreaterThan(0)
    expectContractAnswers(answers)
    await waitUntilSettled(run.prefix)
    const report = await checkInvariants(db, { prefix: run.prefix, keys: requests.map((r) => r.key), tours })

    // The client saw the same saga for a key however many times it had to ask.
    const sagas = await db.saga.findMany({ where: { userId: { startsWith: run.prefix } }, select: { id: true, userId: true } })
    const sagaOfUser = new Map(sagas.map((s) => [s.userId, s.id]))
    expect(answers.map((a, i) => a.body.sagaId === sagaOfUser.get(requests[i]!.body.userId))).not.toContain(false)

    console.log(`[chaos] 200 bookings answered in ${answeredAfterMs} ms, all settled after ${Date.now() - began} ms; ` +
      `kills after ${kills.map((k) => `${k.afterAnswers} answers with ${k.requestsInFlight} open (down ${k.downMs} ms)`).join(', ')}; ` +
      `${answers.filter((a) => a.lostRequests > 0).length} requests re-sent after a lost answer; ` +
      `${report.completed} completed, ${report.failed} failed ${JSON.stringify(report.failures)}; ${report.takenOver} sagas taken over (lease_epoch > 1)`)
    expect(report.violations).toEqual([])
    expect(report.completed + report.failed).toBe(200)
    expect(report.completed).toBeGreaterThan(0)
    // Declined cards came after reservations and bookings: those sagas were compensated.
    expect(report.failures.PAYMENT_DECLINED).toBeGreaterThan(0)
    // Sagas were in flight at each kill: recovery must have taken some over.
    expect(report.takenOver).toBeGreaterThan(0)
    await orchestrator.stop()
  })
})

describe('two orchestrators sharing the load', () => {
  it('lets the survivor take over and finish the sagas of the one that was killed', async () => {
    const run = newRun('pair')
    const tours = await createTours(fleet(), [{ capacity: 80, price: 30 }, { capacity: 80, price: 30 }])
    const requests = bookingRequests(run, tours, 60)
    const [a, b] = await Promise.all([spawnOrchestrator(fleet()), spawnOrchestrator(fleet())])
    let aAlive = true
    let answered = 0
    let pendingOnA = 0
    const killAfter = 15 + Math.floor(Math.random() * 15)

    const killer = (async () => {
      // Mid-run, while A has bookings in flight.
      await until(() => answered >= killAfter && pendingOnA >= 2, 60_000)
      await a.stop('SIGKILL')
      aAlive = false
    })()
    const deadline = Date.now() + 90_000
    const answers = await inPool(requests, 10, async (request, index) => {
      // Alternately to A and B; a request lost with A goes again, same key, to B.
      const onA = index % 2 === 0
      if (onA) pendingOnA++
      const answer = await bookUntilAnswered((attempt) => (onA && attempt === 0 && aAlive ? a.url : b.url), request, { deadline })
      if (onA) pendingOnA--
      answered++
      return answer
    })
    await killer

    expectContractAnswers(answers)
    await waitUntilSettled(run.prefix)
    const report = await checkInvariants(db, { prefix: run.prefix, keys: requests.map((r) => r.key), tours })
    console.log(`[two orchestrators] A killed after ${killAfter}+ answers; ${answers.filter((x) => x.lostRequests).length} requests re-sent to B; ` +
      `${report.completed} completed, ${report.failed} failed; ${report.takenOver} sagas taken over by B (lease_epoch > 1)`)
    expect(report.violations).toEqual([])
    expect(report.takenOver).toBeGreaterThan(0)

    // A saga started on A reads the same through B.
    const startedOnA = answers.find((x) => x.url === a.url)!
    const read = await fetch(`${b.url}/api/orchestrator/sagas/${startedOnA.body.sagaId}`, { headers: { authorization: `Bearer ${TOKENS.support}` } })
    expect(read.status).toBe(200)
    const view = (await read.json()) as { sagaId: string; type: string; status: string }
    expect(view).toMatchObject({ sagaId: startedOnA.body.sagaId, type: 'tour-booking' })
    expect(['COMPLETED', 'FAILED']).toContain(view.status)
    await b.stop()
  })
})

describe('a runner paused past its lease', () => {
  it('writes nothing once another runner took its saga over (fencing)', async () => {
    const run = newRun('fence')
    const [tour] = await createTours(fleet(), [{ capacity: 10, price: 99 }])
    const a = await spawnOrchestrator(fleet())
    const b = await spawnOrchestrator(fleet())
    let paused: RunningService | undefined
    try {
      // Payment down: the saga on A sits retrying its pivot (retried until definitive).
      await fleet().stop('payment')
      const started = await bookUntilAnswered(() => a.url, {
        key: run.key(1), body: { tourId: tour!.tourId, userId: run.userId(1), numberOfSpots: 2, paymentMethod: 'pm_card_visa' },
      }, { waitMs: 0, deadline: Date.now() + 20_000 })
      expect(started.status).toBe(202)
      const sagaId = started.body.sagaId!
      const retryingPivot = async () => {
        const saga = await db.saga.findUniqueOrThrow({ where: { id: sagaId } })
        return (saga.steps as { name: string; status: string }[]).some((s) => s.name === 'processPayment' && s.status === 'RETRYING')
      }
      await expect.poll(retryingPivot, { timeout: 15_000 }).toBe(true)
      // While A is alive it keeps renewing its lease: B, polling every 500 ms, leaves the saga alone.
      await sleep(2 * LEASE_TTL_MS)
      const beforePause = await db.saga.findUniqueOrThrow({ where: { id: sagaId } })
      expect(beforePause).toMatchObject({ status: 'RUNNING', leaseEpoch: 1 })
      const ownerA = beforePause.ownerId

      // A freezes; its lease runs out; B's recovery loop takes the saga over.
      signalService(a, 'SIGSTOP')
      paused = a
      await sleep(LEASE_TTL_MS)
      await expect.poll(async () => {
        const saga = await db.saga.findUniqueOrThrow({ where: { id: sagaId } })
        return saga.leaseEpoch > beforePause.leaseEpoch && saga.ownerId !== null && saga.ownerId !== ownerA
      }, { timeout: 15_000 }).toBe(true)

      // Payment back: B charges and finishes the saga.
      await fleet().start('payment')
      await expect.poll(async () => (await db.saga.findUniqueOrThrow({ where: { id: sagaId } })).status, { timeout: 30_000 }).toBe('COMPLETED')
      const finishedByB = await db.saga.findUniqueOrThrow({ where: { id: sagaId } })
      const eventsByB = await db.sagaEvent.findMany({ where: { sagaId }, orderBy: { id: 'asc' } })

      // A wakes up with its stale lease: whatever it tries must be refused.
      signalService(a, 'SIGCONT')
      paused = undefined
      await expect.poll(() => takenOverLines(a.output(), sagaId), { timeout: 20_000 }).toBeGreaterThan(0)
      await sleep(1_000)

      const after = await db.saga.findUniqueOrThrow({ where: { id: sagaId } })
      const events = await db.sagaEvent.findMany({ where: { sagaId }, orderBy: { id: 'asc' } })
      expect(after).toMatchObject({ status: 'COMPLETED', version: finishedByB.version, leaseEpoch: finishedByB.leaseEpoch, updatedAt: finishedByB.updatedAt })
      expect(events.map((e) => e.id)).toEqual(eventsByB.map((e) => e.id))
      // One writer at a time: versions 0, 1, 2, … with no gap and no duplicate.
      expect(events.map((e) => e.version)).toEqual(events.map((_, i) => i))
      expect(events.at(-1)!.version).toBe(after.version)

      const payments = await db.payment.findMany({ where: { bookingId: after.bookingId! } })
      expect(payments).toHaveLength(1)
      expect(payments[0]).toMatchObject({ amountMinor: 19_800, refundedMinor: 0 })
      const report = await checkInvariants(db, { prefix: run.prefix, keys: [run.key(1)], tours: [tour!] })
      expect(report.violations).toEqual([])
      console.log(`[fencing] saga ${sagaId}: epoch ${beforePause.leaseEpoch} → ${after.leaseEpoch}, completed by B at version ${after.version}; A's late attempt refused`)
    } finally {
      if (paused) signalService(paused, 'SIGCONT')
      await fleet().start('payment').catch(() => {})
      await Promise.all([a.stop(), b.stop()])
    }
  })
})

/** Log lines in which a runner says it lost `sagaId` to another one. */
function takenOverLines(output: string, sagaId: string): number {
  return output.split('\n').filter((line) => line.includes('saga taken over by another runner; this one stops') && line.includes(sagaId)).length
}
