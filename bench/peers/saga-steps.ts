import { classifyReply, type Outcome } from '../../orchestrator/src/engine/classify.ts'
import type { Command, StepContext } from '../../orchestrator/src/engine/saga-definition.ts'
import type { RetryPolicy } from '../../orchestrator/src/engine/retry-policy.ts'
import type { HttpCommandClient } from '../../orchestrator/src/transport/http-command-client.ts'
import { benchSaga, type BenchSagaInput } from '../bench-saga.ts'

// The bench saga as a peer runs it: the same steps, commands, idempotency keys, timeouts and
// retry policies as the engine's definition (bench-saga.ts), written the way each peer's own
// saga examples are — a durable function that runs each command as a checkpointed step and
// pushes its undo; on a definitive failure the undos run in reverse (Temporal's saga sample).
// Only *how a step is made durable* differs between peers: that is the `StepRunner`.

/** One attempt-sequence of one command, for the peer to run as a durable step. */
export interface DurableStep {
  /** The step's name, or `<name>:compensate`: the peer's checkpoint name. */
  name: string
  command: Command
  /** The engine's policy for this command: the peer maps it onto its own retry options. */
  retry: RetryPolicy
  /** Runs one attempt: the HTTP command. Resolves with the answer's body; throws a `StepFailure`. */
  attempt(): Promise<unknown>
}

/** Makes a step durable: DBOS.runStep, Restate's ctx.run. Resolves with the step's (recorded) result. */
export type StepRunner = (step: DurableStep) => Promise<unknown>

/** A participant's answer that was not a success; `transient` ones are worth another attempt. */
export class StepFailure extends Error {
  readonly transient: boolean
  constructor(step: string, readonly outcome: Exclude<Outcome, { kind: 'applied' }>) {
    super(`${step}: ${outcome.kind} ${outcome.error.code} ${outcome.error.message}`)
    this.name = 'StepFailure'
    this.transient = outcome.kind === 'unknown'
  }
}

/**
 * Runs the bench saga's steps through `run`, sending each command with `http` exactly as the
 * engine's runner does (same key `<sagaId>:<step>:<forward|compensate>`, same headers, same
 * per-attempt timeout). Deterministic given the recorded step results, as both peers require.
 */
type BenchStep = (typeof benchSaga.steps)[number]

export async function runBenchSagaSteps(sagaId: string, input: BenchSagaInput, http: HttpCommandClient, run: StepRunner): Promise<void> {
  const context: StepContext<BenchSagaInput> = { sagaId, input, results: {} }
  const durable = (step: BenchStep, direction: 'forward' | 'compensate'): DurableStep => {
    const command = direction === 'forward' ? step.invoke(context) : step.compensate!(context)
    return {
      name: direction === 'forward' ? step.name : `${step.name}:compensate`,
      command,
      retry: direction === 'forward' ? step.retry : step.compensationRetry,
      async attempt() {
        // The engine's own judgement of the answer (engine/classify.ts), so both sides agree on
        // what is a success, a rejection and worth another attempt.
        const reply = await http.send(command, { idempotencyKey: `${sagaId}:${step.name}:${direction}`, sagaId, sagaType: benchSaga.type, step: step.name, timeoutMs: step.timeoutMs })
        const outcome = classifyReply(reply, command.participant)
        if (outcome.kind !== 'applied') throw new StepFailure(step.name, outcome)
        return outcome.body
      },
    }
  }
  const undo: BenchStep[] = []
  for (const step of benchSaga.steps) {
    try {
      context.results[step.name] = await run(durable(step, 'forward'))
    } catch (error) {
      // Before the pivot a failed step turns the saga back; after it, steps retry until they succeed.
      for (const done of undo.reverse()) await run(durable(done, 'compensate'))
      throw error
    }
    if (step.kind === 'pivot') undo.length = 0
    if (step.compensate) undo.push(step)
  }
}
