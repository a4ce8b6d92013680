import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, expect, it } from 'vitest'
import { runScript } from '../support/processes.ts'
import {
  bookUntilAnswered, type BookingRequest, checkInvariants, createTours, inPool, LEASE_TTL_MS, newRun, orchestratorEnv,
  sagasOfRun, spawnOrchestrator, useParticipantFleet,
} from './support/booking-fleet.ts'

// `npm run saga -- recover` as an operator runs it after an outage: a real CLI process,
// no orchestrator alive, sagas left RUNNING by one that was killed. The CLI itself is killed
// half-way; run again, it finishes the job.

const CLI = 'orchestrator/src/cli/main.ts'
const SETTLED_LINE = /^([0-9a-f-]{36}) (COMPLETED|FAILED|COMPENSATION_FAILED|RUNNING|COMPENSATING)$/m

const { db, fleet } = useParticipantFleet()

/** Runs the CLI to its end (bounded) and returns its exit code and output. */
async function saga(args: string[], timeoutMs = 60_000): Promise<{ code: number | null; output: string }> {
  const cli = runScript(CLI, args, orchestratorEnv(fleet()))
  const exit = await Promise.race([cli.exited, sleep(timeoutMs, 'timeout' as const)])
  if (exit === 'timeout') {
    cli.kill('SIGKILL')
    throw new Error(`saga ${args.join(' ')} did not end within ${timeoutMs} ms:\n${cli.output()}`)
  }
  return { code: exit.code, output: cli.output() }
}

describe('saga recover, killed half-way and run again', () => {
  it('drives every orphaned saga to a terminal state, and says so with exit code 0', async () => {
    const run = newRun('cli')
    const [tour] = await createTours(fleet(), [{ capacity: 100, price: 20 }])
    const requests: BookingRequest[] = Array.from({ length: 30 }, (_, i) => ({
      key: run.key(i),
      body: { tourId: tour!.tourId, userId: run.userId(i), numberOfSpots: 1 + (i % 3), paymentMethod: i % 10 === 3 ? 'pm_card_chargeDeclined' : 'pm_card_visa' },
    }))

    // Orphans: an orchestrator with no recovery loop starts 30 bookings while payment is down,
    // and dies with all of them RUNNING at their pivot.
    await fleet().stop('payment')
    const orchestrator = await spawnOrchestrator(fleet(), { env: { SAGA_RECOVERY_INTERVAL_MS: '0' } })
    const deadline = Date.now() + 30_000
    const started = await inPool(requests, 10, (request) => bookUntilAnswered(() => orchestrator.url, request, { waitMs: 0, deadline }))
    expect(started.map((answer) => answer.status)).toEqual(requests.map(() => 202))
    const atPivot = async () => (await sagasOfRun(db, run.prefix)).filter((s) => s.state === 'BOOKING_CREATED').length
    await expect.poll(atPivot, { timeout: 20_000 }).toBe(30)
    await orchestrator.stop('SIGKILL')
    await fleet().start('payment')
    await sleep(LEASE_TTL_MS + 200)
    const orphans = await sagasOfRun(db, run.prefix)
    expect(orphans.map((s) => s.status)).toEqual(requests.map(() => 'RUNNING'))

    // --dry-run lists them and changes nothing.
    const dryRun = await saga(['recover', '--dry-run'])
    expect(dryRun.code, dryRun.output).toBe(0)
    expect(dryRun.output).toMatch(/\d+ saga\(s\) would be recovered/)
    for (const orphan of orphans) expect(dryRun.output).toContain(orphan.id)
    const afterDryRun = await sagasOfRun(db, run.prefix)
    expect(afterDryRun.map(({ id, status, version, leaseEpoch, ownerId }) => ({ id, status, version, leaseEpoch, ownerId })))
      .toEqual(orphans.map(({ id, status, version, leaseEpoch, ownerId }) => ({ id, status, version, leaseEpoch, ownerId })))

    // The first run is killed as soon as it reports its first settled saga.
    const first = runScript(CLI, ['recover', '--concurrency', '4'], orchestratorEnv(fleet()))
    const firstSettled = await Promise.race([
      (async () => { while (!SETTLED_LINE.test(first.output())) await sleep(5) })().then(() => 'settled' as const),
      first.exited.then(() => 'exited' as const),
      sleep(60_000, 'timeout' as const),
    ])
    first.kill('SIGKILL')
    expect(firstSettled, first.output()).toBe('settled')
    expect(await first.exited).toMatchObject({ signal: 'SIGKILL' })
    const leftBehind = await sagasOfRun(db, run.prefix)
    const unfinished = leftBehind.filter((s) => s.status === 'RUNNING' || s.status === 'COMPENSATING')
    expect(unfinished.length, 'the killed run must leave work for the second one').toBeGreaterThan(0)
    const heldByDeadCli = unfinished.filter((s) => s.ownerId?.startsWith('cli-')).length

    // Run again once the dead CLI's leases expired: it finishes the job.
    await sleep(LEASE_TTL_MS + 200)
    const second = await saga(['recover'])
    expect(second.code, second.output).toBe(0)
    expect(second.output).toMatch(/Summary: found \d+, recovered \d+, completed \d+, failed \d+, compensation failed 0, parked 0, still running 0, skipped \d+, left alone \d+/)
    for (const saga of unfinished) expect(second.output).toContain(saga.id)

    const report = await checkInvariants(db, { prefix: run.prefix, keys: requests.map((r) => r.key), tours: [tour!] })
    expect(report.violations).toEqual([])
    expect(report.failed).toBe(requests.filter((r) => r.body.paymentMethod === 'pm_card_chargeDeclined').length)
    console.log(`[cli] 30 orphans; first recover killed after its first settled saga with ${unfinished.length} unfinished ` +
      `(${heldByDeadCli} claimed by the dead CLI); second recover: ${second.output.match(/Summary: .*/)![0]}; ` +
      `${report.completed} completed, ${report.failed} failed (declined cards)`)
  })

  it('lists and shows sagas, and exits 3 for a saga that does not exist', async () => {
    const listed = await saga(['list', '--type', 'tour-booking', '--limit', '3'])
    expect(listed.code, listed.output).toBe(0)
    const ids = [...listed.output.matchAll(/^([0-9a-f-]{36})\s+tour-booking/gm)].map((m) => m[1]!)
    expect(ids.length).toBeGreaterThan(0)
    expect(listed.output).toMatch(/\d+ saga\(s\)/)

    const shown = await saga(['show', ids[0]!, '--json'])
    expect(shown.code, shown.output).toBe(0)
    // The saga, pretty-printed (log lines, if any, are single-line JSON).
    const view = JSON.parse(shown.output.match(/^\{\n[\s\S]*?^\}$/m)![0]) as { sagaId: string; type: string; steps: unknown[] }
    expect(view).toMatchObject({ sagaId: ids[0], type: 'tour-booking' })
    expect(view.steps.length).toBeGreaterThan(0)
    // For people: status, what an operator can do, the steps and the event log.
    const readable = await saga(['show', ids[0]!])
    expect(readable.code, readable.output).toBe(0)
    expect(readable.output).toMatch(new RegExp(`^${ids[0]} tour-booking \\(definition [0-9a-f]{12}\\)`, 'm'))
    expect(readable.output).toMatch(/^actions: /m)
    expect(readable.output).toMatch(/^log:\n {2}\S+ v0 SAGA_STARTED/m)

    const unknown = await saga(['show', randomUUID()])
    expect(unknown.code, unknown.output).toBe(3)
    expect(unknown.output).toContain('SAGA_NOT_FOUND')
  })

  it('ends in bounded time on a saga whose post-pivot participant is down: the summary counts it still running, exit 1', async () => {
    const run = newRun('cli-bounded')
    const [tour] = await createTours(fleet(), [{ capacity: 10, price: 30 }])
    // Loyalty down: the saga is paid and confirmed, then retries its points forever (transient).
    await fleet().stop('loyalty')
    try {
      const orchestrator = await spawnOrchestrator(fleet(), { env: { SAGA_RECOVERY_INTERVAL_MS: '0' } })
      const started = await bookUntilAnswered(() => orchestrator.url, {
        key: run.key(1), body: { tourId: tour!.tourId, userId: run.userId(1), numberOfSpots: 1, paymentMethod: 'pm_card_visa' },
      }, { waitMs: 0, deadline: Date.now() + 20_000 })
      const sagaId = started.body.sagaId!
      await expect.poll(async () => (await sagasOfRun(db, run.prefix))[0]?.state, { timeout: 20_000 }).toBe('BOOKING_CONFIRMED')
      await orchestrator.stop('SIGKILL')
      await sleep(LEASE_TTL_MS + 200)

      const began = Date.now()
      const bounded = await saga(['recover', '--timeout', '4'], 60_000)
      const tookMs = Date.now() - began
      expect(bounded.code, bounded.output).toBe(1)
      // (Orphans other files left behind may be in the same pass: at least this one.)
      expect(bounded.output).toMatch(/Timed out after 4 s: [1-9]\d* saga\(s\) still running are left to the orchestrators/)
      expect(bounded.output).toContain(sagaId)
      expect(bounded.output).toMatch(/Summary: found \d+, recovered \d+, .*still running [1-9]\d*/)
      // Bounded: its timeout, plus starting a process and handing the lease back.
      expect(tookMs).toBeLessThan(45_000)
      expect((await sagasOfRun(db, run.prefix)).find((s) => s.id === sagaId)?.status).toBe('RUNNING')
    } finally {
      await fleet().start('loyalty')
    }
    // With loyalty back, the next recovery finishes it.
    await sleep(LEASE_TTL_MS + 200)
    const finished = await saga(['recover', '--timeout', '60'])
    expect(finished.code, finished.output).toBe(0)
    expect((await sagasOfRun(db, run.prefix))[0]?.status).toBe('COMPLETED')
  })
})
