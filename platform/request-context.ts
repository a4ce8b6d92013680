import type { IncomingMessage } from 'node:http'

/** Header names that carry a saga's identity across services. */
export const HEADERS = {
  sagaId: 'x-saga-id',
  traceparent: 'traceparent',
  clientId: 'x-client-id',
  idempotencyKey: 'idempotency-key',
  idempotencyKeyAlias: 'x-idempotency-key',
  replayed: 'idempotent-replayed',
} as const

function header(raw: IncomingMessage, name: string): string | undefined {
  const value = raw.headers[name]
  return Array.isArray(value) ? value[0] : value
}

// W3C trace context: version-traceid-parentid-flags.
const TRACEPARENT = /^[\da-f]{2}-([\da-f]{32})-([\da-f]{16})-[\da-f]{2}$/

/** Log bindings for a request: its saga and trace ids, when the caller sent them. */
export function requestBindings(raw: IncomingMessage): Record<string, string> {
  const bindings: Record<string, string> = {}
  const sagaId = sagaIdOf(raw)
  if (sagaId) bindings.sagaId = sagaId
  const match = TRACEPARENT.exec(header(raw, HEADERS.traceparent) ?? '')
  if (match) {
    bindings.traceId = match[1]!
    bindings.parentSpanId = match[2]!
  }
  return bindings
}

/** The saga a request is part of (`x-saga-id`, as the orchestrator sends it), when it names one. */
export function sagaIdOf(raw: IncomingMessage): string | undefined {
  const sagaId = header(raw, HEADERS.sagaId)
  return sagaId && sagaId.length <= 64 ? sagaId : undefined
}

/** The Idempotency-Key of a request (also accepted as X-Idempotency-Key). */
export function idempotencyKeyOf(raw: IncomingMessage): string | undefined {
  return header(raw, HEADERS.idempotencyKey) ?? header(raw, HEADERS.idempotencyKeyAlias)
}
