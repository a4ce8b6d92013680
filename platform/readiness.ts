import type { FastifyInstance } from 'fastify'
import type { PrismaClient } from './database.ts'
import { errorBody } from './errors.ts'
import type { Redis } from './redis.ts'

export interface ReadinessOptions {
  /** Name in the /health answer. */
  service: string
  db: PrismaClient
  /** Undefined: the service runs without Redis ("disabled" in /ready). */
  redis: Redis | undefined
  /** Longest a dependency may take to answer before it counts as down. Default: 2000 ms */
  probeTimeoutMs?: number
}

type State = 'up' | 'down' | 'disabled'

/** Settles with `probe`'s outcome, or 'down' once `ms` have passed (a server that accepts and never answers). */
function within(ms: number, probe: Promise<unknown>): Promise<'up' | 'down'> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<'down'>((resolve) => { timer = setTimeout(() => resolve('down'), ms) })
  return Promise.race([probe.then(() => 'up' as const, () => 'down' as const), late]).finally(() => clearTimeout(timer))
}

/**
 * `GET /health` (the process is alive) and `GET /ready` (its dependencies answer), the same on
 * every service. Not ready answers 503 in the contract's error shape, naming what is down in
 * the message and beside it (`postgres`, `redis`: up, down or disabled). Each probe is bounded,
 * so /ready answers within `probeTimeoutMs` even while a server hangs.
 */
export function registerReadiness(app: FastifyInstance, options: ReadinessOptions): void {
  const timeoutMs = options.probeTimeoutMs ?? 2_000
  app.get('/health', { schema: { summary: 'The process is alive', tags: ['health'] } }, async () => ({ status: 'ok', service: options.service }))

  app.get('/ready', { schema: { summary: 'Postgres and Redis are reachable', tags: ['health'] } }, async (_request, reply) => {
    const [postgres, redis] = await Promise.all([
      within(timeoutMs, options.db.$queryRawUnsafe('SELECT 1')),
      options.redis ? within(timeoutMs, options.redis.ping()) : Promise.resolve<State>('disabled'),
    ])
    if (postgres === 'up' && redis !== 'down') return { status: 'ready', postgres, redis }
    const down = [postgres === 'down' ? 'Postgres' : undefined, redis === 'down' ? 'Redis' : undefined].filter(Boolean)
    return reply.code(503).send({
      status: 'unavailable', postgres, redis,
      ...errorBody('SERVICE_UNAVAILABLE', `${down.join(' and ')} ${down.length > 1 ? 'are' : 'is'} unreachable`),
    })
  })
}
