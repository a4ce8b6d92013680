import { HEADERS } from './request-context.ts'

/** One answer of another service, body parsed when it is JSON. */
export interface ServiceAnswer {
  status: number
  body: unknown
}

export interface ServiceRequest {
  method: 'GET' | 'POST'
  /** Base URL of the service (platform/services.ts `serviceUrl`) and the path under it. */
  baseUrl: string
  path: string
  /** The caller's service token (platform/service-tokens.ts `serviceTokenOf`). */
  token: string
  body?: unknown
  /** Required by every command (POST): deterministic, so that a retry is a replay. */
  idempotencyKey?: string
  /** Sent as x-saga-id, so the callee's logs and events carry the correlation. */
  correlationId?: string
  /** Default: 5000 ms */
  timeoutMs?: number
}

/**
 * A request from one service to another with its service token (contract: "Service identity"):
 * a participant's command to another participant, the orchestrator's read of the analytics
 * service. Throws only when no answer came (refused, timed out); any HTTP status is answered.
 */
export async function callService(request: ServiceRequest): Promise<ServiceAnswer> {
  const response = await fetch(request.baseUrl + request.path, {
    method: request.method,
    headers: {
      authorization: `Bearer ${request.token}`,
      ...(request.body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...(request.idempotencyKey ? { [HEADERS.idempotencyKey]: request.idempotencyKey } : {}),
      ...(request.correlationId && request.correlationId.length <= 64 ? { [HEADERS.sagaId]: request.correlationId } : {}),
    },
    ...(request.body !== undefined ? { body: JSON.stringify(request.body) } : {}),
    signal: AbortSignal.timeout(request.timeoutMs ?? 5_000),
  })
  const text = await response.text()
  let body: unknown = text
  try {
    body = text ? JSON.parse(text) : null
  } catch {
    // Not JSON: answered as text.
  }
  return { status: response.status, body }
}
