import http from 'node:http'
import https from 'node:https'
import { randomBytes } from 'node:crypto'
import axios, { AxiosError, type AxiosInstance, type AxiosResponse } from 'axios'
import type { CommandMetadata, CommandOutcome, CommandTransport } from '../engine/ports.ts'
import type { Command } from '../engine/saga-definition.ts'
import type { StepError } from '../engine/saga-instance.ts'

export interface HttpCommandClientOptions {
  /** Base URL of each participant, by the name used in saga definitions. */
  baseUrls: Record<string, string>
  /** Sent as X-Client-Id, for participants' logs. Default: "orchestrator" */
  clientId?: string
  /** Service token sent as `Authorization: Bearer`: participants scope idempotency keys by its caller. */
  token?: string
  /** Upper bound for honouring a Retry-After header. Default: 30000 ms */
  maxRetryAfterMs?: number
}

/**
 * Sends one attempt of a saga command over HTTP and classifies the answer. Never throws for
 * anything a participant or the network does: the engine decides on retries.
 *
 * Every command carries its deterministic Idempotency-Key, the saga id and a W3C
 * `traceparent` whose trace id is the saga id, so one saga can be followed across all logs.
 */
export class HttpCommandClient implements CommandTransport {
  readonly #http: AxiosInstance
  readonly #baseUrls: Record<string, string>
  readonly #clientId: string
  readonly #maxRetryAfterMs: number
  readonly #authorization: string | undefined

  constructor(options: HttpCommandClientOptions) {
    this.#baseUrls = options.baseUrls
    this.#clientId = options.clientId ?? 'orchestrator'
    this.#maxRetryAfterMs = options.maxRetryAfterMs ?? 30_000
    this.#authorization = options.token ? `Bearer ${options.token}` : undefined
    this.#http = axios.create({
      // Keep-alive: a saga step should not pay for a TCP handshake.
      httpAgent: new http.Agent({ keepAlive: true, maxSockets: 256 }),
      httpsAgent: new https.Agent({ keepAlive: true, maxSockets: 256 }),
      validateStatus: () => true,
      maxRedirects: 0,
      // Answers are read as text and parsed here, so a broken body cannot throw inside axios.
      responseType: 'text',
      transformResponse: [(data: unknown) => data],
    })
  }

  async send(command: Command, metadata: CommandMetadata): Promise<CommandOutcome> {
    const base = this.#baseUrls[command.participant]
    if (!base) return { kind: 'rejected', status: 0, error: { code: 'UNKNOWN_PARTICIPANT', message: `No base URL for participant "${command.participant}"`, participant: command.participant } }
    try {
      const response = await this.#http.request({
        method: command.method,
        url: base + command.path,
        data: command.body ?? {},
        timeout: metadata.timeoutMs,
        headers: {
          'content-type': 'application/json',
          'idempotency-key': metadata.idempotencyKey,
          'x-saga-id': metadata.sagaId,
          'x-saga-type': metadata.sagaType,
          'x-client-id': this.#clientId,
          traceparent: traceparentFor(metadata.sagaId),
          ...(this.#authorization ? { authorization: this.#authorization } : {}),
        },
      })
      return classifyResponse(response, command.participant, this.#maxRetryAfterMs)
    } catch (error) {
      return { kind: 'transient', error: networkError(error, command.participant, metadata.timeoutMs) }
    }
  }
}

/** Success, business rejection or transient failure, from an HTTP answer. */
export function classifyResponse(response: Pick<AxiosResponse, 'status' | 'data' | 'headers'>, participant: string, maxRetryAfterMs = 30_000): CommandOutcome {
  const status = response.status
  const body = parseBody(response.data)
  if (status >= 200 && status < 300) return { kind: 'success', status, body }
  const error = participantError(status, body, participant)
  if (status === 408 || status === 429 || status >= 500 || (status === 409 && error.code === 'REQUEST_IN_PROGRESS')) {
    const retryAfterMs = parseRetryAfter(response.headers?.['retry-after'], Date.now(), maxRetryAfterMs)
    return { kind: 'transient', status, error, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) }
  }
  if (status >= 400) return { kind: 'rejected', status, error }
  // 1xx/3xx: not an answer the protocol has; try again rather than guess.
  return { kind: 'transient', status, error }
}

/** Retry-After as delay-seconds or an HTTP date, in ms, capped; undefined when absent or invalid. */
export function parseRetryAfter(value: unknown, now: number, maxMs = 30_000): number | undefined {
  const raw = Array.isArray(value) ? value[0] : value
  if (typeof raw !== 'string' && typeof raw !== 'number') return undefined
  const text = String(raw).trim()
  if (/^\d+$/.test(text)) return Math.min(Number(text) * 1000, maxMs)
  const at = Date.parse(text)
  if (Number.isNaN(at)) return undefined
  return Math.min(Math.max(0, at - now), maxMs)
}

function parseBody(data: unknown): unknown {
  if (typeof data !== 'string') return data
  if (data === '') return null
  try {
    return JSON.parse(data)
  } catch {
    return data
  }
}

function participantError(status: number, body: unknown, participant: string): StepError {
  const error = (body as { error?: { code?: unknown; message?: unknown } } | null)?.error
  const code = typeof error?.code === 'string' ? error.code : `HTTP_${status}`
  const message = typeof error?.message === 'string' ? error.message : `${participant} answered ${status}`
  return { code, message, status, participant }
}

function networkError(error: unknown, participant: string, timeoutMs: number): StepError {
  if (error instanceof AxiosError) {
    if (error.code === 'ECONNABORTED' || error.code === 'ETIMEDOUT') {
      return { code: 'TIMEOUT', message: `${participant} did not answer within ${timeoutMs} ms`, participant }
    }
    return { code: 'NETWORK_ERROR', message: `${participant} unreachable: ${error.code ?? error.message}`, participant }
  }
  return { code: 'NETWORK_ERROR', message: `${participant} unreachable: ${String(error)}`, participant }
}

/** W3C traceparent with the saga id as trace id (a UUID is 32 hex digits) and a fresh span id. */
export function traceparentFor(sagaId: string): string {
  const traceId = sagaId.replaceAll('-', '').toLowerCase().padEnd(32, '0').slice(0, 32)
  return `00-${traceId}-${randomBytes(8).toString('hex')}-01`
}
