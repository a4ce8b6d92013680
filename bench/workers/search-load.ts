import { once } from 'node:events'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import pg from 'pg'
import { buildOrchestratorApp } from '../../orchestrator/src/http/app.ts'
import { encodeCursor } from '../../orchestrator/src/persistence/saga-cursor.ts'
import { createSagaRegistry } from '../../orchestrator/src/sagas/index.ts'
import { HttpCommandClient } from '../../orchestrator/src/transport/http-command-client.ts'
import { configWith } from '../../platform/config.ts'
import { createLogger } from '../../platform/logger.ts'
import { createRedis } from '../../platform/redis.ts'
import { benchSaga } from '../bench-saga.ts'
import { SAGA_KEY } from '../../orchestrator/src/persistence/redis-saga-mirror.ts'
import { createCountingDatabase } from '../lib/counting-database.ts'
import type { SearchResult, SearchTask } from '../lib/protocol.ts'
import { summarize } from '../lib/stats.ts'
import { seedId } from '../lib/seed.ts'
import type { Finished, Gate } from './engine-load.ts'

const TOKEN = 'bench-support-token'

interface SeedRow { id: string; user_id: string | null; booking_id: string | null; created_at: Date }

/** One query shape: a request path per measured request (varied so no single row stays hot). */
interface QueryShape {
  name: string
  description: string
  path: (i: number) => string
}

/**
 * The orchestrator's HTTP app (buildOrchestratorApp: auth, validation, serialisation, pino
 * request logs at info into /dev/null) listening on a real port, and a keep-alive client
 * in the same process sending one request at a time: status reads and searches over the
 * bulk-inserted sagas.
 */
export async function runSearch(task: SearchTask, gate: Gate): Promise<Finished<SearchResult>> {
  // The app's Prisma client on a pool that remembers the last saga query, for EXPLAIN.
  let lastQuery: { text: string; values: unknown[] } | undefined
  const counting = createCountingDatabase(task.databaseUrl, undefined, (text, values) => {
    if (/"?orchestrator"?\."?sagas"?/.test(text)) lastQuery = { text, values }
  })
  const db = counting.db
  const redis = task.redisUrl ? createRedis({ url: task.redisUrl }) : undefined
  if (redis && redis.status !== 'ready') await once(redis, 'ready')
  const app = await buildOrchestratorApp({
    db,
    redis: redis ?? null,
    registry: createSagaRegistry().register(benchSaga),
    transport: new HttpCommandClient({ baseUrls: {} }),
    // Production, as deployed: it refuses to start without service tokens (its transport is never used here).
    config: configWith({ NODE_ENV: 'production', API_TOKENS: `support:${TOKEN}`, SERVICE_TOKENS: 'orchestrator:bench-search-service-token', RATE_LIMIT_MAX: '0' }),
    logger: createLogger({ service: 'orchestrator', format: 'json', level: process.env.LOG_LEVEL ?? 'info' }),
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const port = (app.server.address() as AddressInfo).port
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })

  const rows = await sampleSeeds(task.databaseUrl, task.seedCount, Math.min(task.seedCount, 2_000))
  const pick = <T>(items: T[], i: number) => items[(i * 7919) % items.length]!
  const cursorOf = (row: SeedRow) => encodeCursor(row.created_at, row.id)
  const users = rows.map((r) => r.user_id).filter((u): u is string => Boolean(u))
  const bookings = rows.map((r) => r.booking_id).filter((b): b is string => Boolean(b))
  const recent = redis && task.recentIds.length && await redis.exists(SAGA_KEY(task.recentIds[0]!)) ? task.recentIds : []

  const base = '/api/orchestrator/sagas'
  const shapes: QueryShape[] = [
    { name: 'status (Postgres)', description: `GET ${base}/:id of a random bulk-inserted saga (not in Redis: read from Postgres)`, path: (i) => `${base}/${pick(rows, i).id}` },
    ...(recent.length ? [{ name: 'status (Redis)', description: `GET ${base}/:id of a saga this run drove (mirrored in Redis)`, path: (i: number) => `${base}/${pick(recent, i)}` }] : []),
    { name: 'search newest', description: `GET ${base}?limit=50 (first page, no filter)`, path: () => `${base}?limit=50` },
    { name: 'search status=RUNNING', description: `GET ${base}?status=RUNNING`, path: () => `${base}?status=RUNNING` },
    { name: 'search status=FAILED', description: `GET ${base}?status=FAILED`, path: () => `${base}?status=FAILED` },
    { name: 'search status=COMPENSATION_FAILED', description: `GET ${base}?status=COMPENSATION_FAILED (rare status)`, path: () => `${base}?status=COMPENSATION_FAILED` },
    { name: 'search type+status', description: `GET ${base}?type=hotel-reservation&status=COMPLETED`, path: () => `${base}?type=hotel-reservation&status=COMPLETED` },
    { name: 'search userId', description: `GET ${base}?userId=<random user>`, path: (i) => `${base}?userId=${encodeURIComponent(pick(users, i))}` },
    { name: 'search bookingId', description: `GET ${base}?bookingId=<random booking>`, path: (i) => `${base}?bookingId=${encodeURIComponent(pick(bookings, i))}` },
    { name: 'deep page, no filter', description: `GET ${base}?cursor=<cursor at a random row of the table>`, path: (i) => `${base}?cursor=${cursorOf(pick(rows, i))}` },
    { name: 'deep page status=COMPLETED', description: `GET ${base}?status=COMPLETED&cursor=<random row>`, path: (i) => `${base}?status=COMPLETED&cursor=${cursorOf(pick(rows, i))}` },
    { name: 'deep page type', description: `GET ${base}?type=booking-cancellation&cursor=<random row>`, path: (i) => `${base}?type=booking-cancellation&cursor=${cursorOf(pick(rows, i))}` },
  ]

  const get = (path: string) => new Promise<{ status: number; body: string }>((resolve, reject) => {
    const request = http.get({ host: '127.0.0.1', port, path, agent, headers: { authorization: `Bearer ${TOKEN}` } }, (response) => {
      let body = ''
      response.setEncoding('utf8')
      response.on('data', (chunk: string) => { body += chunk })
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }))
    })
    request.on('error', reject)
  })

  if (task.only) shapes.splice(0, shapes.length, ...shapes.filter((shape) => task.only!.includes(shape.name)))
  // Warm every shape before the gate, so the measured phase starts hot for all of them.
  for (const shape of shapes) for (let i = 0; i < task.warmup; i++) await get(shape.path(i + 100_000))
  await gate()

  const cpuBefore = process.cpuUsage()
  const queries: SearchResult['queries'] = []
  for (const shape of shapes) {
    const latenciesMs: number[] = []
    let failures = 0
    let items = 0
    const shapeBegan = performance.now()
    counting.take()
    for (let i = 0; i < task.requests && performance.now() - shapeBegan < task.shapeBudgetMs; i++) {
      const path = shape.path(i)
      const began = performance.now()
      const { status, body } = await get(path)
      latenciesMs.push(performance.now() - began)
      if (status !== 200) failures++
      else items += (JSON.parse(body) as { items?: unknown[] }).items?.length ?? 1
    }
    const postgresMs = counting.take().waitMs / Math.max(1, latenciesMs.length)
    const p99 = summarize(latenciesMs).p99
    let plan: string | undefined
    if (p99 >= task.explainAboveMs) {
      // What Postgres does for this shape: the statement Prisma sent for its median request, under EXPLAIN ANALYZE.
      const median = latenciesMs.map((ms, i) => ({ ms, i })).sort((a, b) => a.ms - b.ms)[Math.floor(latenciesMs.length / 2)]!.i
      lastQuery = undefined
      await get(shape.path(median))
      if (lastQuery) plan = await explain(task.databaseUrl, lastQuery)
    }
    queries.push({ name: shape.name, description: shape.description, latenciesMs, items: items / Math.max(1, latenciesMs.length), failures, postgresMs, ...(plan ? { plan } : {}) })
  }
  const cpu = process.cpuUsage(cpuBefore)
  return {
    result: { kind: 'search', queries, cpuUserMs: cpu.user / 1000, cpuSystemMs: cpu.system / 1000 },
    async close() {
      agent.destroy()
      await app.close()
      await db.$disconnect()
      redis?.disconnect()
    },
  }
}

async function explain(url: string, query: { text: string; values: unknown[] }): Promise<string> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    const { rows } = await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN (ANALYZE, BUFFERS) ${query.text}`, query.values)
    return `${query.text}\n-- values: ${JSON.stringify(query.values)}\n${rows.map((r) => r['QUERY PLAN']).join('\n')}`
  } catch (error) {
    return `EXPLAIN failed: ${error instanceof Error ? error.message : String(error)}\n${query.text}`
  } finally {
    await client.end()
  }
}

/** Random bulk-inserted sagas (by seed number), with the ids support staff search by. */
async function sampleSeeds(url: string, seedCount: number, sample: number): Promise<SeedRow[]> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    const ids = Array.from({ length: sample }, () => seedId(Math.floor(Math.random() * seedCount)))
    const { rows } = await client.query<SeedRow>(
      'SELECT id::text AS id, user_id, booking_id, created_at FROM orchestrator.sagas WHERE id = ANY($1::uuid[])', [ids])
    if (!rows.length) throw new Error('no bulk-inserted sagas found: run the scale section with its seed first')
    return rows
  } finally {
    await client.end()
  }
}
