import { randomUUID } from 'node:crypto'
import type { FastifyInstance, InjectOptions } from 'fastify'
import { createDatabase, type PrismaClient } from '../../platform/database.ts'
import { createRedis, type Redis } from '../../platform/redis.ts'
import { DEV_SERVICE_TOKEN } from '../../platform/service-tokens.ts'

/** What the orchestrator sends participants outside production (SERVICE_TOKENS unset). */
export const SERVICE_AUTHORIZATION = `Bearer ${DEV_SERVICE_TOKEN}`

/**
 * Shared Postgres and Redis clients for one test file, plus helpers to send commands to a
 * participant built with them. Tests never truncate tables: every test makes its own rows
 * with fresh ids, so files can run in parallel against the same database.
 */
export function participantHarness(options: { redisUrl?: string } = {}) {
  let db: PrismaClient | undefined
  let redis: Redis | undefined
  return {
    get db(): PrismaClient {
      db ??= createDatabase({ poolSize: 25 })
      return db
    },
    get redis(): Redis {
      redis ??= createRedis(options.redisUrl ? { url: options.redisUrl } : {})
      return redis
    },
    async close(): Promise<void> {
      await db?.$disconnect()
      redis?.disconnect()
    },
  }
}

/**
 * Sends a command with an Idempotency-Key (a fresh one unless given), as the orchestrator
 * does: with the dev service token, unless `headers` names another authorization.
 */
export function command(app: FastifyInstance, method: 'POST' | 'PATCH' | 'DELETE', url: string, payload?: unknown, key: string = randomUUID(), headers: Record<string, string> = {}) {
  return app.inject({ method, url, payload: payload as InjectOptions['payload'], headers: { authorization: SERVICE_AUTHORIZATION, 'idempotency-key': key, ...headers } })
}

/** A GET with the dev service token (unless `headers` names another authorization). */
export function read(app: FastifyInstance, url: string, headers: Record<string, string> = {}) {
  return app.inject({ method: 'GET', url, headers: { authorization: SERVICE_AUTHORIZATION, ...headers } })
}

/**
 * The app, with every `inject({...})` carrying the dev service token unless the request names
 * its own authorization: for suites that read participants as the orchestrator would.
 */
export function asService(app: FastifyInstance): FastifyInstance {
  const inject = (options: InjectOptions) =>
    app.inject({ ...options, headers: { authorization: SERVICE_AUTHORIZATION, ...options.headers } })
  return new Proxy(app, {
    get: (target, property) => (property === 'inject' ? inject : Reflect.get(target, property, target)),
  })
}

/**
 * Sends a command with no service token and then with an unknown one, expects 401 UNAUTHORIZED
 * to both, and that nothing was stored under its key: the same key with the token then runs it
 * for the first time (returned, so the caller can check the effect happens only now).
 */
export async function expectRefusedWithoutToken(app: FastifyInstance, db: PrismaClient, schema: string, url: string, payload?: unknown) {
  const key = randomUUID()
  for (const authorization of [undefined, 'Bearer not-a-service-token']) {
    const headers: Record<string, string> = { 'idempotency-key': key, ...(authorization ? { authorization } : {}) }
    const response = await app.inject({ method: 'POST', url, payload: payload as InjectOptions['payload'], headers })
    if (response.statusCode !== 401 || response.json().error.code !== 'UNAUTHORIZED') {
      throw new Error(`POST ${url} without a valid token answered ${response.statusCode}: ${response.body}`)
    }
  }
  const [stored] = await db.$queryRawUnsafe<{ n: bigint }[]>(`SELECT count(*) AS n FROM "${schema}"."idempotency_keys" WHERE key = $1`, key)
  if (Number(stored!.n) !== 0) throw new Error(`POST ${url} without a valid token stored an answer under its key`)
  return { key, withToken: () => command(app, 'POST', url, payload, key) }
}

export function isoDateInDays(days: number, from = new Date()): string {
  const date = new Date(Date.UTC(from.getUTCFullYear(), from.getUTCMonth(), from.getUTCDate() + days))
  return date.toISOString().slice(0, 10)
}
