import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import type { EngineObserver } from '../engine/ports.ts'

/** The orchestrator's Prometheus metrics, fed by the engine's observer hooks. */
export function createMetrics() {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry, prefix: 'orchestrator_' })
  const labels = ['saga_type'] as const
  const metrics = {
    registry,
    sagasStarted: new Counter({ name: 'sagas_started_total', help: 'Sagas started', labelNames: labels, registers: [registry] }),
    sagasCompleted: new Counter({ name: 'sagas_completed_total', help: 'Sagas completed', labelNames: labels, registers: [registry] }),
    sagasFailed: new Counter({ name: 'sagas_failed_total', help: 'Sagas failed and fully compensated', labelNames: labels, registers: [registry] }),
    sagasCompensationFailed: new Counter({ name: 'sagas_compensation_failed_total', help: 'Sagas parked in COMPENSATION_FAILED', labelNames: labels, registers: [registry] }),
    incidents: new Counter({ name: 'saga_incidents_total', help: 'Sagas that started waiting for an operator (PARKED or COMPENSATION_FAILED), by incident code', labelNames: ['saga_type', 'status', 'incident_code', 'step'], registers: [registry] }),
    sagasWaiting: new Gauge({ name: 'sagas_waiting_for_operator', help: 'Sagas PARKED or COMPENSATION_FAILED now (read from Postgres at scrape time)', labelNames: ['status'], registers: [registry] }),
    sagasLeftAlone: new Gauge({ name: 'sagas_unknown_definition', help: 'Orphaned sagas of definition versions this orchestrator does not have (left alone)', registers: [registry] }),
    stepDuration: new Histogram({
      name: 'saga_step_duration_seconds',
      help: 'Duration of one attempt of a saga step',
      labelNames: ['saga_type', 'step', 'phase', 'outcome'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    stepRetries: new Counter({ name: 'saga_step_retries_total', help: 'Step attempts that failed and were retried', labelNames: ['saga_type', 'step', 'phase'], registers: [registry] }),
    sagasInFlight: new Gauge({ name: 'sagas_in_flight', help: 'Sagas this process is driving', registers: [registry] }),
    leaseTakeovers: new Counter({ name: 'saga_lease_takeovers_total', help: 'Sagas taken over from an owner whose lease expired', registers: [registry] }),
    recoveryRuns: new Counter({ name: 'saga_recovery_runs_total', help: 'Recovery passes run', labelNames: ['trigger'], registers: [registry] }),
  }
  return metrics
}

export type Metrics = ReturnType<typeof createMetrics>

export function metricsObserver(metrics: Metrics): EngineObserver {
  return {
    started: (saga) => metrics.sagasStarted.inc({ saga_type: saga.type }),
    stepAttempt: ({ saga, step, phase, outcome, durationMs }) => {
      metrics.stepDuration.observe({ saga_type: saga.type, step, phase, outcome }, durationMs / 1000)
    },
    transition: ({ saga, event, stepName }) => {
      if (event.type === 'STEP_RETRYING') {
        metrics.stepRetries.inc({ saga_type: saga.type, step: stepName ?? String(event.step), phase: event.phase })
      }
      // A saga's terminal transition is its last one: counting them counts sagas.
      if (saga.status === 'COMPLETED') metrics.sagasCompleted.inc({ saga_type: saga.type })
      if (saga.status === 'FAILED') metrics.sagasFailed.inc({ saga_type: saga.type })
    },
    incident: (saga) => {
      if (saga.status === 'COMPENSATION_FAILED') metrics.sagasCompensationFailed.inc({ saga_type: saga.type })
      metrics.incidents.inc({ saga_type: saga.type, status: saga.status, incident_code: saga.incident.code, step: saga.incident.step })
    },
  }
}
