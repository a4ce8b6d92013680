import { describe, expect, it } from 'vitest'
import { CI_PLAN, describeChaos, runChaos } from './support/chaos.ts'

// The CI-sized chaos run (test/e2e/support/chaos.ts says what is done and checked; the
// full-size run is `npm run chaos`): 160 bookings at concurrency 20 while the orchestrator is
// killed twice, PostgreSQL is restarted (10 s), Redis is down for 30 s and the payment link
// answers 10 % 503 and drops 5 % of replies. Every server it disturbs is its own.

describe('bookings while the infrastructure fails under them', () => {
  it('settles every saga, charges nobody twice, loses no seat and refunds every failed saga', async () => {
    const report = await runChaos({ ...CI_PLAN, log: (line) => console.log(`[chaos] ${line}`) })
    for (const line of describeChaos(report)) console.log(line)

    expect(report.violations).toEqual([])
    expect(report.unsettled).toBe(0)
    expect(report.doubleCharges).toBe(0)
    expect(report.lostSeats).toBe(0)
    expect(report.unrefundedFailed).toBe(0)
    expect(report.participantCrashes).toEqual([])
    // The faults happened, and hit the run.
    expect(report.kills).toHaveLength(CI_PLAN.orchestratorKills)
    for (const kill of report.kills) expect(kill.inFlight).toBeGreaterThan(0)
    expect(report.outages.map((outage) => outage.what.split(' ')[0]).sort()).toEqual(['postgres', 'redis'])
    expect(report.paymentLink.unavailable).toBeGreaterThan(0)
    expect(report.paymentLink.dropped).toBeGreaterThan(0)
    // While each lasted, /ready said so, naming what was down.
    const ready = Object.fromEntries(report.outages.map((outage) => [outage.what.split(' ')[0], outage.readyDuring]))
    expect(ready.redis).toMatchObject({ statusCode: 503, redis: 'down', error: { code: 'SERVICE_UNAVAILABLE' } })
    expect(ready.postgres).toMatchObject({ statusCode: 503, postgres: 'down', error: { code: 'SERVICE_UNAVAILABLE' } })
    // The mirror came back with Redis: sagas settled since are there.
    expect(report.mirror.expected).toBeGreaterThanOrEqual(5)
    expect(report.mirror.present).toBe(report.mirror.expected)
    expect(report.statuses.COMPLETED).toBeGreaterThan(0)
    expect(report.failures.PAYMENT_DECLINED).toBeGreaterThan(0)
  }, 300_000)
})
