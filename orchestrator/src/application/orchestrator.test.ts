import { randomUUID } from 'node:crypto'
import { afterAll, describe, expect, it } from 'vitest'
import { configWith } from '../../../platform/config.ts'
import { createDatabase } from '../../../platform/database.ts'
import { createLogger } from '../../../platform/logger.ts'
import type { CommandTransport, ParticipantReply } from '../engine/ports.ts'
import { defineSaga } from '../engine/saga-definition.ts'
import { SagaRegistry } from '../engine/saga-registry.ts'
import { createOrchestrator } from './create-orchestrator.ts'

const db = createDatabase({ poolSize: 5 })
afterAll(() => db.$disconnect())

/** A participant that answers at once, except for commands the test holds until released. */
function heldTransport() {
  const held = new Map<string, () => void>()
  const transport: CommandTransport = {
    async send(command): Promise<ParticipantReply> {
      const body = command.body as { hold?: string } | undefined
      if (body?.hold) await new Promise<void>((resolve) => held.set(body.hold!, resolve))
      return { kind: 'answer', status: 200, body: {} }
    },
    fence: async () => ({ kind: 'answer', status: 200, body: { applied: false } }),
  }
  return { transport, release: (name: string) => held.get(name)?.() }
}

let failOnce = true
const leaseSaga = defineSaga<{ userId: string; hold?: string; crash?: boolean }>({
  type: `lease-test-${randomUUID().slice(0, 8)}`,
  deadlineMs: 60_000,
  steps: [{
    name: 'only',
    kind: 'pivot',
    state: 'DONE',
    invoke: ({ input }) => {
      // A runner that dies on a bug, once: its saga must lose its lease and be recovered.
      if (input.crash && failOnce) {
        failOnce = false
        throw new Error('step builder failed')
      }
      return { participant: 'stub', method: 'POST', path: '/x', body: input.hold ? { hold: input.hold } : {} }
    },
  }],
  result: () => ({}),
})

function orchestrator(transport: CommandTransport, leaseTtlMs: number) {
  return createOrchestrator(configWith({}), {
    db,
    redis: null,
    registry: new SagaRegistry().register(leaseSaga),
    transport,
    logger: createLogger({ service: 'test', level: 'silent', format: 'json' }),
    leaseTtlMs,
    recoveryIntervalMs: 0,
  }).orchestrator
}

describe('orchestrator leases', () => {
  it('renews only the sagas its runners drive, so a saga whose runner died is recovered while others run', async () => {
    const { transport, release } = heldTransport()
    const o = orchestrator(transport, 600)
    o.startLeaseRenewal()
    try {
      const busy = await o.start({ type: leaseSaga.type, input: { userId: 'u', hold: 'busy' }, callerId: 'test' })
      const crashed = await o.start({ type: leaseSaga.type, input: { userId: 'u', crash: true }, callerId: 'test' })
      // The crashed one sits RUNNING with nobody driving it; the busy one keeps its lease alive.
      await expect.poll(async () => (await db.saga.findUnique({ where: { id: crashed.saga.id } }))!.leaseExpiresAt!.getTime() < Date.now(), { timeout: 5_000 }).toBe(true)
      const summary = await o.recoverPendingSagas({ waitForOutcome: true })
      expect(summary.sagaIds).toContain(crashed.saga.id)
      expect(summary.sagaIds).not.toContain(busy.saga.id)
      expect((await o.getSaga(crashed.saga.id)).status).toBe('COMPLETED')
      expect((await db.saga.findUnique({ where: { id: crashed.saga.id } }))!.leaseEpoch).toBe(2)
      const busyRow = await db.saga.findUnique({ where: { id: busy.saga.id } })
      expect(busyRow!.leaseEpoch).toBe(1)
      expect(busyRow!.leaseExpiresAt!.getTime()).toBeGreaterThan(Date.now())
      release('busy')
      expect((await o.waitForOutcome(busy.saga.id, 5_000))!.status).toBe('COMPLETED')
    } finally {
      await o.stop()
    }
  })

  it('leaves orphaned sagas of types it cannot run to an orchestrator that can', async () => {
    const id = randomUUID()
    await db.saga.create({
      data: { id, type: 'type-from-another-deployment', status: 'RUNNING', state: 'STARTED', input: {}, deadlineAt: new Date(Date.now() + 60_000), leaseExpiresAt: new Date(Date.now() - 1_000) },
    })
    const o = orchestrator(heldTransport().transport, 1_000)
    try {
      const summary = await o.recoverPendingSagas({ dryRun: true })
      expect(summary.sagaIds).not.toContain(id)
    } finally {
      await o.stop()
      await db.saga.delete({ where: { id } })
    }
  })

  it('hands its leases back when it stops, so another orchestrator can take over at once', async () => {
    // A participant that is down: the pivot waits between retries, and stop() ends the wait.
    const down: CommandTransport = {
      send: async () => ({ kind: 'no-answer', error: { code: 'NETWORK_ERROR', message: 'down' } }),
      fence: async () => ({ kind: 'no-answer', error: { code: 'NETWORK_ERROR', message: 'down' } }),
    }
    const first = orchestrator(down, 60_000)
    const { saga } = await first.start({ type: leaseSaga.type, input: { userId: 'u' }, callerId: 'test' })
    await expect.poll(async () => (await first.getSaga(saga.id)).steps[0]?.status).toBe('RETRYING')
    await first.stop()
    const second = orchestrator(down, 60_000)
    try {
      const summary = await second.recoverPendingSagas({ dryRun: true })
      expect(summary.sagaIds).toContain(saga.id)
    } finally {
      await second.stop()
      await db.saga.update({ where: { id: saga.id }, data: { status: 'FAILED' } })
    }
  })
})
