import { createHash } from 'node:crypto'
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteHandlerMethod } from 'fastify'
import fp from 'fastify-plugin'
import type { Prisma, PrismaClient } from '../../platform/database.ts'
import { AppError, type ErrorBody } from '../../platform/errors.ts'
import { type Redis, tryRedis } from '../../platform/redis.ts'
import { canonicalJson } from '../../platform/canonical-json.ts'
import { HEADERS, idempotencyKeyOf } from '../../platform/request-context.ts'

export interface IdempotencyOptions {
  /** Service name, part of the Redis cache key. */
  service: string
  /** Postgres schema holding this service's `idempotency_keys` table. */
  schema: string
  db: PrismaClient
  /** Cache for completed responses. Optional: Postgres alone is the truth. */
  redis?: Redis | undefined
  /** How long Redis keeps a completed response. Default: 86400 s (24 h). */
  cacheTtlSeconds?: number
  /** Longest a command's transaction may run. Default: 15000 ms. */
  transactionTimeoutMs?: number
  /**
   * Called after a command's transaction committed and before its answer is sent. For fault
   * injection in tests (a process that dies here must never apply the command twice).
   */
  onCommitted?: (request: FastifyRequest) => void | Promise<void>
}

/** A completed command: what is replayed for every later request with the same key. */
interface StoredResponse {
  fingerprint: string
  status: number
  body: unknown
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The command's transaction: its effect commits together with its stored response. */
    tx: Prisma.TransactionClient
  }
  interface FastifyContextConfig {
    /** Set false on a mutating route that is safe without a key (none in this system). */
    idempotent?: boolean
  }
}

const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE'])
const MAX_KEY_LENGTH = 255

/**
 * Makes every mutating route apply each command exactly once per Idempotency-Key.
 *
 * The handler runs inside a Postgres transaction that also inserts the response into the
 * service's `idempotency_keys` table, so the effect and the record commit or vanish together.
 * A transaction-scoped advisory lock on the key turns a concurrent duplicate into
 * 409 REQUEST_IN_PROGRESS instead of a second execution. A business rejection (an AppError
 * below 500) rolls the handler's writes back to a savepoint and is stored like a success; any
 * other failure rolls everything back and stores nothing, so a retry runs the command again.
 * Keys are scoped by method, route and calling client.
 */
async function idempotencyPlugin(app: FastifyInstance, options: IdempotencyOptions): Promise<void> {
  const table = `"${options.schema}"."idempotency_keys"`
  const ttl = options.cacheTtlSeconds ?? 86_400
  const timeout = options.transactionTimeoutMs ?? 15_000
  const cacheKey = (scope: string, key: string) =>
    `idem:${options.service}:${createHash('sha1').update(scope).digest('hex')}:${key}`

  app.decorateRequest('tx', null as unknown as Prisma.TransactionClient)

  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method]
    if (!methods.some((method) => MUTATING.has(method)) || route.config?.idempotent === false) return
    const handler = route.handler as RouteHandlerMethod
    const checkKey = async (request: FastifyRequest) => {
      const key = idempotencyKeyOf(request.raw)
      if (!key) throw new AppError('IDEMPOTENCY_KEY_REQUIRED')
      if (key.length > MAX_KEY_LENGTH) {
        throw new AppError('VALIDATION_FAILED', `Idempotency-Key must be at most ${MAX_KEY_LENGTH} characters`)
      }
    }
    // Checked before body validation so a missing key is reported first.
    route.preValidation = [checkKey, ...toArray(route.preValidation)]
    route.handler = async function (request: FastifyRequest, reply: FastifyReply) {
      return runCommand.call(this, request, reply, handler)
    }
  })

  async function runCommand(this: FastifyInstance, request: FastifyRequest, reply: FastifyReply, handler: RouteHandlerMethod) {
    const key = idempotencyKeyOf(request.raw)!
    const client = (request.headers[HEADERS.clientId] as string | undefined) ?? 'anonymous'
    const scope = `${request.method} ${request.routeOptions.url}|${client}`
    const fingerprint = fingerprintOf(request)

    const cached = await tryRedis(options.redis, (redis) => redis.get(cacheKey(scope, key)))
    if (cached) return answer(reply, JSON.parse(cached) as StoredResponse, fingerprint, true)

    const outcome = await options.db.$transaction(async (tx) => {
      const [lock] = await tx.$queryRawUnsafe<{ locked: boolean }[]>(
        'SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0)) AS locked', `${options.schema}\n${scope}\n${key}`)
      if (!lock?.locked) throw new AppError('REQUEST_IN_PROGRESS')
      // A statement of its own, so that (READ COMMITTED) its snapshot is taken after the lock:
      // in the same statement as the lock, a duplicate arriving just as the first request
      // commits would get the lock yet not see the stored answer, and fail on the INSERT.
      const [existing] = await tx.$queryRawUnsafe<StoredResponse[]>(
        `SELECT fingerprint, status, body FROM ${table} WHERE scope = $1 AND key = $2`, scope, key)
      if (existing) return { stored: existing, replayed: true }

      await tx.$executeRawUnsafe('SAVEPOINT idempotent_command')
      request.tx = tx
      let result: Omit<StoredResponse, 'fingerprint'>
      try {
        const body = await handler.call(this, request, reply)
        result = { status: reply.statusCode, body: body ?? null }
      } catch (error) {
        if (!(error instanceof AppError) || !error.isRejection) throw error
        await tx.$executeRawUnsafe('ROLLBACK TO SAVEPOINT idempotent_command')
        result = { status: error.statusCode, body: error.toBody() satisfies ErrorBody }
      }
      // The first answer is the body as jsonb gives it back (jsonb reorders object keys), so
      // that it is byte-for-byte the answer every replay, from Postgres or Redis, will send.
      const [stored] = await tx.$queryRawUnsafe<StoredResponse[]>(
        `INSERT INTO ${table} (scope, key, fingerprint, status, body) VALUES ($1, $2, $3, $4, $5::jsonb)
         RETURNING fingerprint, status, body`,
        scope, key, fingerprint, result.status, JSON.stringify(result.body))
      return { stored: stored!, replayed: false }
    }, { timeout, maxWait: timeout })

    if (outcome.stored.fingerprint === fingerprint) {
      void tryRedis(options.redis, (redis) => redis.set(cacheKey(scope, key), JSON.stringify(outcome.stored), 'EX', ttl))
    }
    if (!outcome.replayed) await options.onCommitted?.(request)
    return answer(reply, outcome.stored, fingerprint, outcome.replayed)
  }
}

function answer(reply: FastifyReply, stored: StoredResponse, fingerprint: string, replayed: boolean) {
  if (stored.fingerprint !== fingerprint) throw new AppError('IDEMPOTENCY_KEY_REUSED')
  if (replayed) reply.header(HEADERS.replayed, 'true')
  // Sent as the stored JSON text so a first answer and its replays are byte-for-byte equal.
  return reply.code(stored.status).type('application/json; charset=utf-8').send(JSON.stringify(stored.body))
}

/** Hash of what the command is about: its path parameters and body (key order ignored). */
export function fingerprintOf(request: Pick<FastifyRequest, 'params' | 'body'>): string {
  return createHash('sha256').update(canonicalJson({ params: request.params ?? {}, body: request.body ?? null })).digest('hex')
}

function toArray<T>(value: T | T[] | undefined): T[] {
  return value === undefined ? [] : Array.isArray(value) ? value : [value]
}

export default fp(idempotencyPlugin, { name: 'idempotency', fastify: '5.x' })
