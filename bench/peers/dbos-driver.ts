import { randomUUID } from 'node:crypto'
import { DBOS, type StepConfig } from '@dbos-inc/dbos-sdk'
import type { RetryPolicy } from '../../orchestrator/src/engine/retry-policy.ts'
import { HttpCommandClient } from '../../orchestrator/src/transport/http-command-client.ts'
import { benchSaga, type BenchSagaInput, STUB } from '../bench-saga.ts'
import { countEveryStatement } from '../lib/counting-database.ts'
import type { LoadTask, SagaDriver } from '../lib/protocol.ts'
import { runBenchSagaSteps, StepFailure } from './saga-steps.ts'

// DBOS Transact as a peer, in the measuring worker as a DBOS application runs it: one process,
// DBOS.launch() on its own system database (task.databaseUrl, created and migrated by DBOS),
// the saga a workflow whose four commands are steps. DBOS checkpoints the workflow's input and
// status and every step's output in Postgres, each in its own transaction, before going on: a
// crash resumes the workflow after its last recorded step. Nothing of its configuration is
// changed but the name, the database and the log level (info, as the engine's pino).

/** The engine's retry policy in DBOS's terms; DBOS has no cap on the delay between attempts. */
function dbosRetry(policy: RetryPolicy): StepConfig {
  return {
    retriesAllowed: policy.maxAttempts > 1,
    maxAttempts: policy.maxAttempts,
    intervalSeconds: policy.initialDelayMs / 1000,
    backoffRate: policy.multiplier,
    // A participant's rejection is final: only transient failures are worth another attempt.
    shouldRetry: (error) => error instanceof StepFailure && error.transient,
  }
}

/** A workflow's id: the round's run id, then the saga id, so that a round's rows are found by prefix. */
export const dbosWorkflowId = (runId: string, sagaId: string) => `${runId}:${sagaId}`

export async function dbosDriver(task: LoadTask): Promise<SagaDriver> {
  // Before DBOS opens its first connection, so that its launch is counted too (and then reset).
  const counting = countEveryStatement()
  const http = new HttpCommandClient({ baseUrls: { [STUB]: task.stubUrl } })
  const workflow = DBOS.registerWorkflow(
    (sagaId: string, input: BenchSagaInput) =>
      runBenchSagaSteps(sagaId, input, http, (step) => DBOS.runStep(() => step.attempt(), { name: step.name, ...dbosRetry(step.retry) })),
    { name: benchSaga.type },
  )
  DBOS.setConfig({ name: 'saga-bench', systemDatabaseUrl: task.databaseUrl, logLevel: process.env.LOG_LEVEL ?? 'info' })
  await DBOS.launch()
  return {
    async runOne(n) {
      // Started under its own id (DBOS's idempotency key) and awaited, as the engine's start + waitForOutcome.
      const sagaId = randomUUID()
      const handle = await DBOS.startWorkflow(workflow, { workflowID: dbosWorkflowId(task.runId, sagaId) })(sagaId, { run: task.runId, n })
      await handle.getResult()
    },
    startMeasuring: () => { counting.take() },
    statements: () => counting.take(),
    close: () => DBOS.shutdown(),
  }
}
