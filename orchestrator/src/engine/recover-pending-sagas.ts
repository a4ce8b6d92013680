import type { LeaseOwner } from './ports.ts'
import type { SagaInstance, SagaStatus } from './saga-instance.ts'

/** What recovery needs from storage: find sagas whose owner stopped, and take one over. */
export interface RecoveryStore {
  listOrphanedSagas(options: { olderThanMs?: number; limit?: number }): Promise<{ id: string; type: string; status: string; ownerId: string | null }[]>
  claimSaga(id: string, ownerId: string): Promise<{ saga: SagaInstance; owner: LeaseOwner } | undefined>
}

export interface RecoveryDependencies {
  store: RecoveryStore
  /** Drives a taken-over saga from its last committed point (re-sending its in-flight command). */
  drive(saga: SagaInstance, owner: LeaseOwner): Promise<SagaInstance>
  ownerId: string
}

export interface RecoveryOptions {
  /** Only sagas untouched for this long. Default: 0 */
  olderThanMs?: number
  /** List what would be recovered, take nothing over. Default: false */
  dryRun?: boolean
  /** Wait until each recovered saga settles (CLI) or only start driving it (background loop). Default: true */
  waitForOutcome?: boolean
  /** Sagas driven at once. Default: 16 */
  concurrency?: number
  /** Sagas looked at in one pass. Default: 10000 */
  limit?: number
  onProgress?: (event: RecoveryProgress) => void
}

export type RecoveryProgress =
  | { type: 'found'; total: number }
  | { type: 'claimed'; sagaId: string; sagaType: string }
  | { type: 'skipped'; sagaId: string; reason: string }
  | { type: 'settled'; sagaId: string; status: SagaStatus }

export interface RecoverySummary {
  /** Orphaned sagas found. */
  found: number
  /** Taken over by this pass. */
  recovered: number
  completed: number
  failed: number
  compensationFailed: number
  /** Still RUNNING/COMPENSATING when the pass ended (or, with waitForOutcome false, being driven). */
  stillStuck: number
  /** Taken by another runner between listing and claiming. */
  skipped: number
  sagaIds: string[]
}

/**
 * Finds non-terminal sagas whose lease expired, takes each over (new owner, epoch + 1, so the
 * old owner can no longer write) and drives it on from its last committed point: forward, or
 * on with compensation. The one recovery routine: run at boot, by the background loop and by
 * the CLI. Safe to run from several processes at once: a saga is claimed by exactly one.
 */
export async function recoverPendingSagas(dependencies: RecoveryDependencies, options: RecoveryOptions = {}): Promise<RecoverySummary> {
  const orphans = await dependencies.store.listOrphanedSagas({ olderThanMs: options.olderThanMs ?? 0, limit: options.limit ?? 10_000 })
  const summary: RecoverySummary = { found: orphans.length, recovered: 0, completed: 0, failed: 0, compensationFailed: 0, stillStuck: 0, skipped: 0, sagaIds: orphans.map((o) => o.id) }
  options.onProgress?.({ type: 'found', total: orphans.length })
  if (options.dryRun) return summary

  const queue = [...orphans]
  const worker = async () => {
    for (let orphan = queue.shift(); orphan; orphan = queue.shift()) {
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
        summary.stillStuck++
        run.catch(() => {})
        continue
      }
      const final = await run.catch(() => claimed.saga)
      if (final.status === 'COMPLETED') summary.completed++
      else if (final.status === 'FAILED') summary.failed++
      else if (final.status === 'COMPENSATION_FAILED') summary.compensationFailed++
      else summary.stillStuck++
      options.onProgress?.({ type: 'settled', sagaId: orphan.id, status: final.status })
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, options.concurrency ?? 16) }, worker))
  return summary
}
