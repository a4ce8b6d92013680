import { LEGACY_VERSION } from '../engine/saga-registry.ts'
import type { Incident, PauseRequest, Phase, SagaFailure, SagaInstance, SagaStatus, StepRecord } from '../engine/saga-instance.ts'

/** A row of orchestrator.sagas as pg returns it (jsonb parsed, timestamptz as Date). */
export interface SagaRow {
  id: string
  type: string
  definition_version: string | null
  status: string
  state: string
  phase: string
  cursor: number
  pivot_passed: boolean
  input: unknown
  data: { results?: Record<string, unknown> } | null
  steps: StepRecord[] | null
  error: SagaFailure | null
  compensation_error: SagaFailure | null
  incident: Incident | null
  version: number
  lease_epoch: number
  abort_requested: boolean
  pause_request: PauseRequest | null
  started_by: string | null
  user_id: string | null
  deadline_at: Date
  created_at: Date
  updated_at: Date
  completed_at: Date | null
}

/** The columns toInstance reads, for SELECTs and RETURNING clauses. */
export const SAGA_COLUMNS = `id::text AS id, type, definition_version, status, state, phase, cursor, pivot_passed, input, data, steps,
  error, compensation_error, incident, version, lease_epoch, abort_requested, pause_request, started_by, user_id, deadline_at,
  created_at, updated_at, completed_at`

/** A stored saga row as the engine's SagaInstance. */
export function toInstance(row: SagaRow): SagaInstance {
  return {
    id: row.id,
    type: row.type,
    definitionVersion: row.definition_version ?? LEGACY_VERSION,
    status: row.status as SagaStatus,
    state: row.state,
    phase: (row.phase === 'compensation' ? 'compensation' : 'forward') satisfies Phase,
    cursor: row.cursor,
    pivotPassed: row.pivot_passed,
    input: row.input,
    results: row.data?.results ?? {},
    steps: row.steps ?? [],
    ...(row.error ? { error: row.error } : {}),
    ...(row.compensation_error ? { compensationError: row.compensation_error } : {}),
    ...(row.incident ? { incident: row.incident } : {}),
    version: row.version,
    leaseEpoch: row.lease_epoch,
    abortRequested: row.abort_requested,
    ...(row.pause_request ? { pauseRequest: row.pause_request } : {}),
    ...(row.started_by ? { startedBy: row.started_by } : {}),
    ...(row.user_id ? { userId: row.user_id } : {}),
    deadlineAt: row.deadline_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    ...(row.completed_at ? { completedAt: row.completed_at } : {}),
  }
}
