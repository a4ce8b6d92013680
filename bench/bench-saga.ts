import { defineSaga, type Command } from '../orchestrator/src/engine/saga-definition.ts'

/** Name the stub participant's base URL is configured under. */
export const STUB = 'stub'

export interface BenchSagaInput {
  /** Run id: stored as the saga's userId reference, so one run's sagas are found by index. */
  run: string
  n: number
}

const post = (path: string, body: unknown): Command => ({ participant: STUB, method: 'POST', path, body })

/**
 * The 4-step saga of the engine benchmark: two undoable steps, the pivot, one step after it,
 * the shape of a real booking saga with every participant answering at once. Compensations
 * are no-ops at the stub (they never run in the benchmark: every step succeeds).
 */
export const benchSaga = defineSaga<BenchSagaInput>({
  type: 'bench-4-step',
  deadlineMs: 10 * 60_000,
  steps: [
    {
      name: 'reserve',
      kind: 'compensatable',
      state: 'RESERVED',
      compensatedState: 'RELEASED',
      invoke: ({ input }) => post('/reserve', { item: input.n, spots: 1 }),
      compensate: ({ sagaId }) => post('/release', { sagaId }),
    },
    {
      name: 'create',
      kind: 'compensatable',
      state: 'CREATED',
      compensatedState: 'CANCELLED',
      invoke: ({ input }) => post('/create', { item: input.n, user: input.run }),
      compensate: ({ sagaId }) => post('/cancel', { sagaId }),
    },
    {
      name: 'charge',
      kind: 'pivot',
      state: 'CHARGED',
      invoke: ({ input }) => post('/charge', { item: input.n, amount: 100, currency: 'EUR' }),
    },
    {
      name: 'confirm',
      kind: 'retriable',
      state: 'CONFIRMED',
      invoke: ({ input }) => post('/confirm', { item: input.n }),
    },
  ],
  result: () => ({}),
  references: ({ input }) => ({ userId: input.run }),
  // The fact a completion makes true, as the real sagas state theirs: written to the outbox in
  // the completing transition's statement and published by the worker's relay (off with
  // `npm run bench -- --no-outbox`, to measure what the outbox costs).
  onCompleted: ({ input, completedAt }) => [{ type: 'bench.completed', data: { run: input.run, n: input.n, completedAt: completedAt.toISOString() } }],
})

/** The same saga without the domain event (`--no-outbox`). */
export const benchSagaWithoutEvents = defineSaga<BenchSagaInput>({ ...benchSaga, onCompleted: undefined })

/** The same four commands the saga sends, for the raw floor (no engine). */
export function benchCommands(input: BenchSagaInput): { step: string; command: Command }[] {
  const context = { sagaId: '', input, results: {} }
  return benchSaga.steps.map((step) => ({ step: step.name, command: step.invoke(context) }))
}
