import http from 'node:http'
import https from 'node:https'
import { randomBytes } from 'node:crypto'
import axios, { AxiosError, type AxiosInstance, type AxiosResponse } from 'axios'
import type { CommandMetadata, CommandTransport, ParticipantReply } from '../engine/ports.ts'
import type { Command } from '../engine/saga-definition.ts'
import type { StepError } from '../engine/saga-instance.ts'
import { undiciAdapter } from './undici-adapter.ts'

export interface HttpCommandClientOptions {
  /** Base URL of each participant, by the name used in saga definitions. */
  baseUrls: Record<string, string>
  /** Sent as X-Client-Id, for participants' logs. Default: "orchestrator" */
  clientId?: string
  /** Service token sent as `Authorization: Bearer`: participants scope idempotency keys by its caller. */
  token?: string
  /** Upper bound for honouring a Retry-After header. Default: 30000 ms */
  maxRetryAfterMs?: number
  /**
   * How requests go out under axios. Default: undici's connection pool (undici-adapter.ts: a
   * third less client CPU per command than axios' own adapter, measured here). `'http'`:
   * axios' own adapter on a keep-alive http.Agent, which nock intercepts (unit tests).
   */
  adapter?: 'undici' | 'http'
}

/**
 * Sends one attempt of a saga command (or a fence) over HTTP and hands the answer back as it
 * came. Never throws for anything a participant or the network does: the engine judges the
 * answer (engine/classify.ts) and decides on retries.
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
  readonly #close: () => Promise<void>

  constructor(options: HttpCommandClientOptions) {
    this.#baseUrls = options.baseUrls
    this.#clientId = options.clientId ?? 'orchestrator'
    this.#maxRetryAfterMs = options.maxRetryAfterMs ?? 30_000
    this.#authorization = options.token ? `Bearer ${options.token}` : undefined
    // Keep-alive either way: a saga step should not pay for a TCP handshake.
    let transport: { httpAgent: http.Agent; httpsAgent: https.Agent } | { adapter: ReturnType<typeof undiciAdapter> }
    if (options.adapter === 'http') {
      const agents = { httpAgent: new http.Agent({ keepAlive: true, maxSockets: 256 }), httpsAgent: new https.Agent({ keepAlive: true, maxSockets: 256 }) }
      transport = agents
      this.#close = async () => { agents.httpAgent.destroy(); agents.httpsAgent.destroy() }
    } else {
      const adapter = undiciAdapter()
      transport = { adapter }
      this.#close = () => adapter.close()
    }
    this.#http = axios.create({
      ...transport,
      validateStatus: () => true,
      maxRedirects: 0,
      // Answers are read as text and parsed here, so a broken body cannot throw inside axios.
      responseType: 'text',
      transformResponse: [(data: unknown) => data],
    })
  }

  /** Closes the keep-alive connections (after the last command: the runner has stopped). */
  close(): Promise<void> {
    return this.#close()
  }

  send(command: Command, metadata: CommandMetadata): Promise<ParticipantReply> {
    return this.#request(command.participant, command.method, command.path, command.body ?? {}, metadata)
  }

  fence(participant: string, metadata: CommandMetadata): Promise<ParticipantReply> {
    return this.#request(participant, 'POST', `/api/idempotency-keys/${encodeURIComponent(metadata.idempotencyKey)}/fence`, {}, metadata)
  }

  async #request(participant: string, method: Command['method'], path: string, body: unknown, metadata: CommandMetadata): Promise<ParticipantReply> {
    const base = this.#baseUrls[participant]
    if (!base) return { kind: 'no-answer', error: { code: 'UNKNOWN_PARTICIPANT', message: `No base URL for participant "${participant}"`, participant } }
    try {
      const response = await this.#http.request({
        method,
        url: base + path,
        data: body,
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
      return replyOf(response, this.#maxRetryAfterMs)
    } catch (error) {
      return { kind: 'no-answer', error: networkError(error, participant, metadata.timeoutMs) }
    }
  }
}

/** An HTTP answer as the engine's ParticipantReply (engine/classify.ts judges it). */
export function replyOf(response: Pick<AxiosResponse, 'status' | 'data' | 'headers'>, maxRetryAfterMs = 30_000): ParticipantReply {
  const retryAfterMs = response.status >= 400 ? parseRetryAfter(response.headers?.['retry-after'], Date.now(), maxRetryAfterMs) : undefined
  return { kind: 'answer', status: response.status, body: parseBody(response.data), ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) }
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
