import { createHash } from 'node:crypto'
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteHandlerMethod } from 'fastify'
import fp from 'fastify-plugin'
import type { Prisma, PrismaClient } from '../../platform/database.ts'
import { AppError, type ErrorBody } from '../../platform/errors.ts'
import { canonicalJson } from '../../platform/canonical-json.ts'
import { HEADERS, idempotencyKeyOf } from '../../platform/request-context.ts'

export interface IdempotencyOptions {
  /** Postgres schema holding this service's `idempotency_keys` table. */
  schema: string
  db: PrismaClient
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

/** A row of `idempotency_keys`: a stored answer, or a fence (no command, and never one). */
type KeyRecord = (StoredResponse & { fenced: false }) | { fenced: true }

/** What `POST /api/idempotency-keys/:key/fence` answers. */
export type FenceAnswer = { applied: true; status: number; body: unknown } | { applied: false }

declare module 'fastify' {
  interface FastifyRequest {
    /** The command's transaction: its effect commits together with its stored response. */
    tx: Prisma.TransactionClient
  }
  interface FastifyContextConfig {
    /** Set false on a mutating route that is safe without a key (the fence). */
    idempotent?: boolean
  }
}

const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE'])
export const MAX_KEY_LENGTH = 255
/** The longest a key can be in a path (the fence's), percent-encoded: three characters a byte. */
export const MAX_ENCODED_KEY_LENGTH = 3 * MAX_KEY_LENGTH

/**
 * Makes every mutating route apply each command exactly once per Idempotency-Key, and lets a
 * caller settle a command whose outcome it does not know without causing it (the fence).
 *
 * The handler runs inside a Postgres transaction that also inserts the response into the
 * service's `idempotency_keys` table, so the effect and the record commit or vanish together.
 * A transaction-scoped advisory lock on the key turns a concurrent duplicate into
 * 409 REQUEST_IN_PROGRESS instead of a second execution. A business rejection (an AppError
 * below 500) rolls the handler's writes back and is stored like a success, in a transaction of
 * its own (rejections are rare: the path every command takes has no savepoint); any other
 * failure rolls everything back and stores nothing, so a retry runs the command again.
 * Postgres alone holds the answers: a replay costs what a first request's lookup costs, and a
 * first request (nearly every request) costs no cache round trips.
 *
 * Keys belong to the authenticated caller (`request.caller`, from its service token): two
 * callers never see or block each other's keys, and no header a caller chooses changes whose
 * key it is. The fingerprint is the method, the route and the hash of the path parameters and
 * body, so the same key with another body or on another route is 422 IDEMPOTENCY_KEY_REUSED.
 */
async function idempotencyPlugin(app: FastifyInstance, options: IdempotencyOptions): Promise<void> {
  const table = `"${options.schema}"."idempotency_keys"`
  const timeout = options.transactionTimeoutMs ?? 15_000

  const claimFunction = `"${options.schema}".claim_idempotency_key`

  /**
   * Takes the key's advisory lock for this transaction (409 REQUEST_IN_PROGRESS while another
   * request holds it) and reads its record, in one round trip. The read must see every record
   * committed before the lock was granted, which a plain statement's snapshot, taken before
   * the lock, does not promise: the schema's `claim_idempotency_key` function reads with a
   * snapshot of its own (see its migration, 20261201174500).
   */
  async function claimKey(tx: Prisma.TransactionClient, caller: string, key: string): Promise<KeyRecord | undefined> {
    const [claim] = await tx.$queryRawUnsafe<{ locked: boolean; fenced: boolean; fingerprint: string | null; status: number; body: unknown }[]>(
      `SELECT locked, fenced, fingerprint, status, body FROM ${claimFunction}($1, $2)`, caller, key)
    if (!claim?.locked) throw new AppError('REQUEST_IN_PROGRESS')
    if (claim.fenced) return { fenced: true }
    // A record that is not a fence is a stored answer: it always has a fingerprint.
    const { fingerprint, status, body } = claim
    return fingerprint === null ? undefined : { fenced: false, fingerprint, status, body }
  }

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
    const caller = callerOf(request)
    const fingerprint = fingerprintOf(request)

    let outcome: { stored: StoredResponse; replayed: boolean }
    try {
      outcome = await options.db.$transaction(async (tx) => {
        const existing = await answerOf(tx, caller, key)
        if (existing) return { stored: existing, replayed: true }
        request.tx = tx
        let body: unknown
        try {
          body = await handler.call(this, request, reply)
        } catch (error) {
          // Out of the transaction, so that everything the handler wrote is rolled back.
          if (error instanceof AppError && error.isRejection) throw new Refusal(error)
          throw error
        }
        return { stored: await storeAnswer(tx, caller, key, { fingerprint, status: reply.statusCode, body: body ?? null }), replayed: false }
      }, { timeout, maxWait: timeout })
    } catch (error) {
      if (!(error instanceof Refusal)) throw error
      // A refusal is stored like a success, in a transaction of its own that claims the key
      // again: a duplicate that arrived in between either holds the key now (409) or has
      // stored its own answer (which this request then answers, like every later one).
      const refusal = { fingerprint, status: error.cause.statusCode, body: error.cause.toBody() satisfies ErrorBody }
      outcome = await options.db.$transaction(async (tx) => {
        const existing = await answerOf(tx, caller, key)
        if (existing) return { stored: existing, replayed: true }
        return { stored: await storeAnswer(tx, caller, key, refusal), replayed: false }
      }, { timeout, maxWait: timeout })
    }

    if (!outcome.replayed) await options.onCommitted?.(request)
    return answer(reply, outcome.stored, fingerprint, outcome.replayed)
  }

  /** The key's stored answer, if any, with the key held; IDEMPOTENCY_KEY_FENCED once fenced. */
  async function answerOf(tx: Prisma.TransactionClient, caller: string, key: string): Promise<StoredResponse | undefined> {
    const record = await claimKey(tx, caller, key)
    if (record?.fenced) throw new AppError('IDEMPOTENCY_KEY_FENCED')
    return record
  }

  /**
   * Stores the first answer under the key, with its lock held. Returned as jsonb gives it back
   * (jsonb reorders object keys), so that it is byte-for-byte the answer every replay sends.
   */
  async function storeAnswer(tx: Prisma.TransactionClient, caller: string, key: string, answer: StoredResponse): Promise<StoredResponse> {
    const [stored] = await tx.$queryRawUnsafe<StoredResponse[]>(
      `INSERT INTO ${table} (caller, key, fingerprint, status, body) VALUES ($1, $2, $3, $4, $5::jsonb)
       RETURNING fingerprint, status, body`,
      caller, key, answer.fingerprint, answer.status, JSON.stringify(answer.body))
    return stored!
  }

  // The fence: settles a command whose outcome the caller does not know (a timeout, a dropped
  // reply), without ever causing it. It takes the key's lock like a command, so while the
  // command runs it answers 409 REQUEST_IN_PROGRESS; once it holds the lock, either the
  // command committed (its stored answer is returned) or it never will: the fence row makes
  // every later command under the key answer 409 IDEMPOTENCY_KEY_FENCED. Fencing is itself
  // idempotent (the record only ever goes from nothing to an answer or to a fence) and needs
  // no Idempotency-Key of its own.
  app.post<{ Params: { key: string } }>('/api/idempotency-keys/:key/fence', {
    config: { idempotent: false },
    schema: {
      params: { type: 'object', properties: { key: { type: 'string', minLength: 1, maxLength: MAX_KEY_LENGTH } }, required: ['key'] },
    },
  }, async (request): Promise<FenceAnswer> => {
    const caller = callerOf(request)
    const { key } = request.params
    return options.db.$transaction(async (tx) => {
      const existing = await claimKey(tx, caller, key)
      if (existing && !existing.fenced) return { applied: true, status: existing.status, body: existing.body }
      // No conflict is possible: only a holder of the key's lock writes its record.
      if (!existing) await tx.$executeRawUnsafe(`INSERT INTO ${table} (caller, key, fenced_at) VALUES ($1, $2, now())`, caller, key)
      return { applied: false }
    }, { timeout, maxWait: timeout })
  })
}

/** The authenticated caller; the service-auth plugin refuses anonymous requests before this runs. */
function callerOf(request: FastifyRequest): string {
  if (!request.caller) throw new AppError('UNAUTHORIZED')
  return request.caller
}

/** A business rejection by the handler, carried out of its transaction to be stored. */
class Refusal extends Error {
  constructor(override readonly cause: AppError) {
    super(cause.message)
  }
}

function answer(reply: FastifyReply, stored: StoredResponse, fingerprint: string, replayed: boolean) {
  if (stored.fingerprint !== fingerprint) throw new AppError('IDEMPOTENCY_KEY_REUSED')
  if (replayed) reply.header(HEADERS.replayed, 'true')
  // Sent as the stored JSON text so a first answer and its replays are byte-for-byte equal.
  return reply.code(stored.status).type('application/json; charset=utf-8').send(JSON.stringify(stored.body))
}

/**
 * What the command is: its method and route, and the hash of its path parameters and body
 * (key order ignored), e.g. `POST /api/tours/:tourId/reservations 9f2c…`.
 */
export function fingerprintOf(request: Pick<FastifyRequest, 'method' | 'routeOptions' | 'params' | 'body'>): string {
  const hash = createHash('sha256').update(canonicalJson({ params: request.params ?? {}, body: request.body ?? null })).digest('hex')
  return `${request.method} ${request.routeOptions.url} ${hash}`
}

function toArray<T>(value: T | T[] | undefined): T[] {
  return value === undefined ? [] : Array.isArray(value) ? value : [value]
}

export default fp(idempotencyPlugin, { name: 'idempotency', fastify: '5.x' })
