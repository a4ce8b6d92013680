import { randomUUID } from 'node:crypto'
import http2 from 'node:http2'
import type { AddressInfo } from 'node:net'
import * as restate from '@restatedev/restate-sdk'
import type { RetryPolicy } from '../../orchestrator/src/engine/retry-policy.ts'
import { HttpCommandClient } from '../../orchestrator/src/transport/http-command-client.ts'
import { type BenchSagaInput, STUB } from '../bench-saga.ts'
import { closeAgent, requestJson } from '../lib/http-json.ts'
import type { LoadTask, SagaDriver } from '../lib/protocol.ts'
import { runBenchSagaSteps, StepFailure } from './saga-steps.ts'

// Restate as a peer: the saga is a Restate service whose handler runs the four commands as
// `ctx.run` side effects, served from the measuring worker over HTTP/2 (the SDK's default,
// bidirectional streaming) and invoked through the server's ingress — the caller sends
// `POST /BenchSaga/run` and waits for the answer, as a client of a Restate service does. The
// server (bench/peers/restate-server.ts) journals the invocation and each run's result in its
// log before the handler goes on.

export const RESTATE_SERVICE = 'BenchSaga'

interface Invocation {
  sagaId: string
  input: BenchSagaInput
}

/** The engine's retry policy in Restate's terms; a participant's rejection becomes a TerminalError (no retry). */
function restateRetry(policy: RetryPolicy): restate.RunOptions<unknown> {
  return {
    ...(Number.isFinite(policy.maxAttempts) ? { maxRetryAttempts: policy.maxAttempts } : {}),
    initialRetryInterval: policy.initialDelayMs,
    retryIntervalFactor: policy.multiplier,
    maxRetryInterval: policy.maxDelayMs,
  }
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

export async function restateDriver(task: LoadTask): Promise<SagaDriver> {
  if (!task.restate) throw new Error('a restate task needs the server\'s addresses')
  const { ingressUrl, adminUrl } = task.restate
  const http = new HttpCommandClient({ baseUrls: { [STUB]: task.stubUrl } })
  const service = restate.service({
    name: RESTATE_SERVICE,
    handlers: {
      run: (ctx: restate.Context, { sagaId, input }: Invocation) =>
        runBenchSagaSteps(sagaId, input, http, (step) => ctx.run(step.name, async () => {
          try {
            return await step.attempt()
          } catch (error) {
            if (error instanceof StepFailure && !error.transient) throw new restate.TerminalError(error.message)
            throw error
          }
        }, restateRetry(step.retry))),
    },
  })
  const endpoint = http2.createServer(restate.createEndpointHandler({ services: [service] }))
  // The server keeps its HTTP/2 sessions open: closing the endpoint ends them.
  const sessions = new Set<http2.ServerHttp2Session>()
  endpoint.on('session', (session) => {
    sessions.add(session)
    session.once('close', () => sessions.delete(session))
  })
  await new Promise<void>((resolve, reject) => {
    endpoint.once('error', reject)
    endpoint.listen(0, '127.0.0.1', () => resolve())
  })
  const uri = `http://127.0.0.1:${(endpoint.address() as AddressInfo).port}`
  // Each worker is a new deployment of the same service: `force` replaces the last one's.
  const registered = await requestJson('POST', `${adminUrl}/deployments`, { body: { uri, force: true } })
  if (registered.status !== 200 && registered.status !== 201) throw new Error(`registering ${uri} with Restate answered ${registered.status}: ${registered.text}`)

  const invoke = async (n: number) => {
    const sagaId = randomUUID()
    const body: Invocation = { sagaId, input: { run: task.runId, n } }
    // The saga id as Restate's idempotency key, as the engine's start takes one.
    return requestJson('POST', `${ingressUrl}/${RESTATE_SERVICE}/run`, { headers: { 'idempotency-key': sagaId }, body })
  }
  // The ingress learns of a new deployment a moment after the admin API accepted it.
  for (let attempt = 0; ; attempt++) {
    const answer = await invoke(-1)
    if (answer.status === 200) break
    if (attempt >= 50) throw new Error(`Restate's ingress still answers ${answer.status} after registration: ${answer.text}`)
    await delay(100)
  }
  return {
    async runOne(n) {
      const answer = await invoke(n)
      if (answer.status !== 200) throw new Error(`${RESTATE_SERVICE}/run answered ${answer.status}: ${answer.text.slice(0, 300)}`)
    },
    async close() {
      await requestJson('DELETE', `${adminUrl}/deployments/${registered.body.id}?force=true`).catch(() => {})
      await new Promise((resolve) => {
        endpoint.close(resolve)
        for (const session of sessions) session.destroy()
      })
      closeAgent()
    },
  }
}
