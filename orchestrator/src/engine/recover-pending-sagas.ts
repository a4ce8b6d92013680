import type { DefinitionRef, LeaseOwner, Orphan } from './ports.ts'
import type { SagaInstance, SagaStatus } from './saga-instance.ts'

/** What recovery needs from storage: find sagas whose owner stopped, and take one over. */
export interface RecoveryStore {
  listOrphanedSagas(options: { olderThanMs?: number; limit?: number; definitions?: readonly DefinitionRef[] }): Promise<Orphan[]>
  countOrphansOutside(definitions: readonly DefinitionRef[]): Promise<number>
  claimSaga(id: string, ownerId: string): Promise<{ saga: SagaInstance; owner: LeaseOwner } | undefined>
}

export interface RecoveryDependencies {
  store: RecoveryStore
  /** The definitions this process can run: recovery takes no other saga over. */
  definitions: readonly DefinitionRef[]
  /** Drives a taken-over saga from its last committed point (re-sending its in-flight command). */
  drive(saga: SagaInstance, owner: LeaseOwner): Promise<SagaInstance>
  ownerId: string
  /** Default: Date.now */
  now?: () => number
}

export interface RecoveryOptions {
  /** Only sagas untouched for this long. Default: 0 */
  olderThanMs?: number
  /** List what would be recovered, take nothing over. Default: false */
  dryRun?: boolean
  /** Wait until each recovered saga settles (CLI) or only start driving it (background loop). Default: true */
  waitForOutcome?: boolean
  /**
   * With waitForOutcome: stop waiting after this long. Sagas still moving are left to this
   * process's runners (or, once it stops, to the next owner) and counted as still running, so
   * an operator's command always ends. Default: no bound
   */
  timeoutMs?: number
  /** Sagas driven at once. Default: 16 */
  concurrency?: number
  /** Sagas looked at in one pass. Default: 10000 */
  limit?: number
  onProgress?: (event: RecoveryProgress) => void
}

export type RecoveryProgress =
  | { type: 'found'; total: number; leftAlone: number }
  | { type: 'claimed'; sagaId: string; sagaType: string }
  | { type: 'skipped'; sagaId: string; reason: string }
  | { type: 'settled'; sagaId: string; status: SagaStatus }
  | { type: 'timeout'; stillRunning: number; sagaIds: string[] }

export interface RecoverySummary {
  /** Orphaned sagas found. */
  found: number
  /** Taken over by this pass. */
  recovered: number
  completed: number
  failed: number
  compensationFailed: number
  /** Waiting for an operator with an incident. */
  parked: number
  /** Still RUNNING/COMPENSATING when the pass ended (or, with waitForOutcome false, being driven). */
  stillRunning: number
  /** Taken by another runner between listing and claiming. */
  skipped: number
  /** Orphans whose definition version this process does not have: left for one that does. */
  leftAlone: number
  sagaIds: string[]
}

/**
 * Finds non-terminal sagas whose lease expired, takes each over (new owner, epoch + 1, so the
 * old owner can no longer write) and drives it on from its last committed point: forward, or
 * on with compensation. The one recovery routine: run at boot, by the background loop and by
 * the CLI. Safe to run from several processes at once: a saga is claimed by exactly one.
 */
export async function recoverPendingSagas(dependencies: RecoveryDependencies, options: RecoveryOptions = {}): Promise<RecoverySummary> {
  const now = dependencies.now ?? Date.now
  const deadline = options.timeoutMs === undefined ? Infinity : now() + options.timeoutMs
  const orphans = await dependencies.store.listOrphanedSagas({ olderThanMs: options.olderThanMs ?? 0, limit: options.limit ?? 10_000, definitions: dependencies.definitions })
  const leftAlone = await dependencies.store.countOrphansOutside(dependencies.definitions)
  const summary: RecoverySummary = { found: orphans.length, recovered: 0, completed: 0, failed: 0, compensationFailed: 0, parked: 0, stillRunning: 0, skipped: 0, leftAlone, sagaIds: orphans.map((o) => o.id) }
  /** Still RUNNING/COMPENSATING when the pass ends: being driven, or not reached before the timeout. */
  const unfinished: string[] = []
  options.onProgress?.({ type: 'found', total: orphans.length, leftAlone })
  if (options.dryRun) return summary

  const queue = [...orphans]
  // Past the deadline once its timer fired or the clock says so, whichever comes first: a timer
  // may fire a millisecond before the clock reads its time.
  let expired = false
  const pastDeadline = () => expired || now() >= deadline
  const timedOut = new Promise<'timeout'>((resolve) => {
    if (deadline !== Infinity) {
      setTimeout(() => {
        expired = true
        resolve('timeout')
      }, Math.max(0, deadline - now())).unref()
    }
  })
  const worker = async () => {
    for (let orphan = queue.shift(); orphan; orphan = queue.shift()) {
      if (pastDeadline()) {
        queue.unshift(orphan)
        return
      }
      const claimed = await dependencies.store.claimSaga(orphan.id, dependencies.ownerId)
      if (!claimed) {
        summary.skipped++
        options.onProgress?.({ type: 'skipped', sagaId: orphan.id, reason: 'taken by another runner' })
        continue
      }
      summary.recovered++
      options.onProgress?.({ type: 'claimed', sagaId: orphan.id, sagaType: orphan.type })
      const run = dependencies.drive(claimed.saga, claimed.owner)
      if (options.waitForOutcome === false) {
        unfinished.push(orphan.id)
        run.catch(() => {})
        continue
      }
      const final = await Promise.race([run.catch(() => claimed.saga), timedOut])
      if (final === 'timeout') {
        unfinished.push(orphan.id)
        run.catch(() => {})
        continue
      }
      if (final.status === 'COMPLETED') summary.completed++
      else if (final.status === 'FAILED') summary.failed++
      else if (final.status === 'COMPENSATION_FAILED') summary.compensationFailed++
      else if (final.status === 'PARKED') summary.parked++
      else {
        unfinished.push(orphan.id)
      }
      options.onProgress?.({ type: 'settled', sagaId: orphan.id, status: final.status })
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, options.concurrency ?? 16) }, worker))
  // Orphans not reached before the timeout are as unfinished as those still being driven.
  unfinished.push(...queue.map((orphan) => orphan.id))
  summary.stillRunning = unfinished.length
  if (pastDeadline()) options.onProgress?.({ type: 'timeout', stillRunning: summary.stillRunning, sagaIds: unfinished })
  return summary
}
