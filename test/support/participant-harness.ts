import { randomUUID } from 'node:crypto'
import type { FastifyInstance, InjectOptions } from 'fastify'
import { createDatabase, type PrismaClient } from '../../platform/database.ts'
import { createRedis, type Redis } from '../../platform/redis.ts'

/**
 * Shared Postgres and Redis clients for one test file, plus helpers to send commands to a
 * participant built with them. Tests never truncate tables: every test makes its own rows
 * with fresh ids, so files can run in parallel against the same database.
 */
export function participantHarness() {
  let db: PrismaClient | undefined
  let redis: Redis | undefined
  return {
    get db(): PrismaClient {
      db ??= createDatabase({ poolSize: 25 })
      return db
    },
    get redis(): Redis {
      redis ??= createRedis()
      return redis
    },
    async close(): Promise<void> {
      await db?.$disconnect()
      redis?.disconnect()
    },
  }
}

/** Sends a command with an Idempotency-Key (a fresh one unless given). */
export function command(app: FastifyInstance, method: 'POST' | 'PATCH' | 'DELETE', url: string, payload?: unknown, key: string = randomUUID(), headers: Record<string, string> = {}) {
  return app.inject({ method, url, payload: payload as InjectOptions['payload'], headers: { 'idempotency-key': key, ...headers } })
}

export function isoDateInDays(days: number, from = new Date()): string {
  const date = new Date(Date.UTC(from.getUTCFullYear(), from.getUTCMonth(), from.getUTCDate() + days))
  return date.toISOString().slice(0, 10)
}
