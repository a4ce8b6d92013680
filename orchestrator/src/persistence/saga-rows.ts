import type { Saga } from '../../../generated/prisma/client.ts'
import type { SagaFailure, SagaInstance, SagaStatus, StepRecord } from '../engine/saga-instance.ts'

/** What the `data` column holds. */
export interface SagaData {
  results: Record<string, unknown>
}

/** A stored saga row as the engine's SagaInstance. */
export function toInstance(row: Saga): SagaInstance {
  const data = (row.data ?? {}) as unknown as Partial<SagaData>
  return {
    id: row.id,
    type: row.type,
    status: row.status as SagaStatus,
    state: row.state,
    phase: row.phase === 'compensation' ? 'compensation' : 'forward',
    cursor: row.cursor,
    pivotPassed: row.pivotPassed,
    input: row.input,
    results: data.results ?? {},
    steps: (row.steps ?? []) as unknown as StepRecord[],
    ...(row.error ? { error: row.error as unknown as SagaFailure } : {}),
    ...(row.compensationError ? { compensationError: row.compensationError as unknown as SagaFailure } : {}),
    version: row.version,
    leaseEpoch: row.leaseEpoch,
    abortRequested: row.abortRequested,
    deadlineAt: row.deadlineAt,
    ...(row.userId ? { userId: row.userId } : {}),
    ...(row.startedBy ? { startedBy: row.startedBy } : {}),
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    ...(row.completedAt ? { completedAt: row.completedAt } : {}),
  }
}
