import type { Logger } from 'pino'
import { Counter, Gauge } from 'prom-client'
import type { Config } from '../../../platform/config.ts'
import { createDatabase, poolOf, type PrismaClient } from '../../../platform/database.ts'
import { createServiceEvents, type ServiceEvents } from '../../../platform/events/service-events.ts'
import { createLogger } from '../../../platform/logger.ts'
import { type Redis, redisFromConfig } from '../../../platform/redis.ts'
import { serviceTokenOf } from '../../../platform/service-tokens.ts'
import { participantUrls, serviceUrl } from '../../../platform/service-addresses.ts'
import type { CommandTransport, EngineObserver, SagaQueries, SagaRepository } from '../engine/ports.ts'
import type { SagaRegistry } from '../engine/saga-registry.ts'
import { PostgresSagaStore } from '../persistence/postgres-saga-store.ts'
import { RedisSagaMirror, RedisSagaViewCache } from '../persistence/redis-saga-mirror.ts'
import { RedisSagaUpdates } from '../persistence/redis-saga-updates.ts'
import { createSagaRegistry } from '../sagas/index.ts'
import { AnalyticsClient } from '../transport/analytics-client.ts'
import { HttpCommandClient } from '../transport/http-command-client.ts'
import { createMetrics, metricsObserver, type Metrics } from './metrics.ts'
import { Orchestrator } from './orchestrator.ts'
import type { SagaView } from './saga-view.ts'

export interface OrchestratorOverrides {
  /** Default: a new client on `DATABASE_URL`, closed by close(). */
  db?: PrismaClient
  /** Default: a new client on `REDIS_URL` (none when it is `disabled`), closed by close(). `null`: no Redis. */
  redis?: Redis | null
  /** Default: a logger named "orchestrator" at `LOG_LEVEL`. */
  logger?: Logger
  /** Default: every saga in orchestrator/src/sagas, with the configured deadlines. */
  registry?: SagaRegistry
  /** Default: HTTP to the participants at their `<NAME>_URL`, with the orchestrator's service token. */
  transport?: CommandTransport
  /** Default: a fresh UUID. */
  instanceId?: string
  /** Default: `SAGA_LEASE_TTL_MS`. */
  leaseTtlMs?: number
  /** Default: `SAGA_RECOVERY_INTERVAL_MS`. */
  recoveryIntervalMs?: number
  /** Wraps the Postgres store, e.g. to time its calls (the benchmark). Default: none */
  wrapStore?: (store: SagaRepository & SagaQueries) => SagaRepository & SagaQueries
  /** Extra engine hooks, called after the metrics' own. */
  observer?: EngineObserver
  /** Base URL of the analytics service. Default: `ANALYTICS_URL` (else the local one). */
  analyticsUrl?: string
  /** Overrides of the outbox relay's settings, for tests. Default: `EVENT_RELAY_POLL_MS`. */
  events?: { pollIntervalMs?: number }
}

export interface OrchestratorGraph {
  orchestrator: Orchestrator
  metrics: Metrics
  db: PrismaClient
  redis: Redis | undefined
  logger: Logger
  /**
   * The relay of orchestrator.outbox (the facts completed sagas make true) to events:domain.
   * Not started here: the server starts it when ready (the CLI does not run one).
   */
  events: ServiceEvents
  /** The analytics service's figures, for support staff. */
  analytics: AnalyticsClient
  /** Stops the orchestrator and closes what this function opened. */
  close(): Promise<void>
}

/**
 * The one place the orchestrator's object graph is built: store, mirror, live updates,
 * transport, registry, metrics and the Orchestrator on top. Used by the HTTP server, the CLI
 * and the benchmark, so all three run the same thing.
 */
export function createOrchestrator(config: Config, overrides: OrchestratorOverrides = {}): OrchestratorGraph {
  const logger = overrides.logger ?? createLogger({ service: 'orchestrator', level: config.LOG_LEVEL ?? 'info', ...(config.LOG_FORMAT ? { format: config.LOG_FORMAT } : {}) })
  const db = overrides.db ?? createDatabase({ url: config.DATABASE_URL, poolSize: config.DATABASE_POOL_SIZE })
  const pool = poolOf(db)
  if (!pool) throw new Error('The orchestrator needs a database client made by platform/database.ts (createDatabase or databaseOnPool)')
  const redis = overrides.redis === null ? undefined : overrides.redis ?? redisFromConfig(config, logger)
  const registry = overrides.registry ?? createSagaRegistry(config)
  const metrics = createMetrics()
  const events = createServiceEvents({ config, schema: 'orchestrator', pool, db, redis, logger, registry: metrics.registry, ...overrides.events })
  const postgres = new PostgresSagaStore(pool, { leaseTtlMs: overrides.leaseTtlMs ?? config.SAGA_LEASE_TTL_MS, onEventsCommitted: () => events.nudge() })
  const store = overrides.wrapStore?.(postgres) ?? postgres
  const transport = overrides.transport ?? new HttpCommandClient({ baseUrls: participantUrls(config), token: serviceTokenOf(config) })
  const mirror = redis
    ? new RedisSagaMirror(redis, { view: (saga) => orchestrator.viewOf(saga), onError: (err) => logger.debug({ err }, 'redis mirror write failed') })
    : undefined
  if (mirror) {
    new Gauge({
      name: 'saga_mirror_unwritten',
      help: 'Finished sagas whose Redis mirror entry waits for Redis (written once it is back)',
      registers: [metrics.registry],
      collect() { this.set(mirror.unwritten) },
    })
  }
  const repairs = mirror ? mirrorRepairs(postgres, mirror, logger, metrics) : undefined
  const orchestrator: Orchestrator = new Orchestrator({
    store,
    registry,
    transport,
    logger,
    ...(redis && mirror ? {
      mirror,
      cache: new RedisSagaViewCache<SagaView>(redis),
      updates: new RedisSagaUpdates(redis),
    } : {}),
    observer: overrides.observer ? combineObservers(metricsObserver(metrics), overrides.observer) : metricsObserver(metrics),
    onRecovery: (trigger, summary) => {
      metrics.recoveryRuns.inc({ trigger })
      metrics.leaseTakeovers.inc(summary.recovered)
      metrics.sagasLeftAlone.set(summary.leftAlone)
      if (trigger === 'boot') repairs?.schedule()
      else if (summary.recovered) repairs?.schedule(summary.sagaIds)
    },
    ...(overrides.instanceId ? { instanceId: overrides.instanceId } : {}),
    leaseTtlMs: overrides.leaseTtlMs ?? config.SAGA_LEASE_TTL_MS,
    recoveryIntervalMs: overrides.recoveryIntervalMs ?? config.SAGA_RECOVERY_INTERVAL_MS,
  })
  return {
    orchestrator,
    metrics,
    db,
    redis,
    logger,
    events,
    analytics: new AnalyticsClient({ baseUrl: overrides.analyticsUrl ?? serviceUrl('analytics', config), token: serviceTokenOf(config) }),
    async close() {
      repairs?.stop()
      await orchestrator.stop()
      await events.stop()
      // The command client made here (its keep-alive connections); a given one is its owner's.
      if (!overrides.transport && transport instanceof HttpCommandClient) await transport.close()
      if (!overrides.db) await db.$disconnect()
      if (redis && overrides.redis === undefined) redis.disconnect()
    },
  }
}

/** How long a repair waits after its pass: any live orchestrator's own mirror writes land first. */
const MIRROR_REPAIR_GRACE_MS = 2_000

/**
 * The mirror's repairs. An orchestrator killed between a saga's final commit and its mirror
 * write leaves saga:{id} stale for good: nothing writes a finished saga's view again, and
 * recovery takes over only unfinished sagas. So the recovery pass that starts this process,
 * and each pass that takes a stopped orchestrator's sagas over, has the finished sagas around
 * where that one stopped in the event log (the log's end at boot, else the taken-over sagas'
 * last entries) looked at, and the views Redis does not show finished written, after a grace.
 */
function mirrorRepairs(store: PostgresSagaStore, mirror: RedisSagaMirror, logger: Logger, metrics: Metrics) {
  const repaired = new Counter({
    name: 'saga_mirror_repaired_total',
    help: 'Finished sagas whose stale Redis mirror entry (left by an orchestrator that stopped between commit and mirror write) was written again',
    registers: [metrics.registry],
  })
  const timers = new Set<NodeJS.Timeout>()
  let stopped = false
  return {
    schedule(sagaIds?: readonly string[]): void {
      if (stopped) return
      const found = store.finishedNear(sagaIds ? { sagaIds } : {})
      found.catch(() => undefined)
      const timer = setTimeout(() => {
        timers.delete(timer)
        found.then((finished) => mirror.repair(finished)).then((written) => {
          repaired.inc(written)
          if (written) logger.info({ written }, 'wrote the Redis views of finished sagas a stopped orchestrator had not mirrored')
        }, (err: unknown) => {
          if (!stopped) logger.warn({ err }, 'mirror repair failed')
        })
      }, MIRROR_REPAIR_GRACE_MS).unref()
      timers.add(timer)
    },
    stop(): void {
      stopped = true
      for (const timer of timers) clearTimeout(timer)
    },
  }
}

/** Calls each observer's hooks in order. */
function combineObservers(...observers: EngineObserver[]): EngineObserver {
  const each = <K extends keyof EngineObserver>(hook: K) => (info: Parameters<NonNullable<EngineObserver[K]>>[0]) => {
    for (const observer of observers) (observer[hook] as ((value: typeof info) => void) | undefined)?.(info)
  }
  return { started: each('started'), stepAttempt: each('stepAttempt'), transition: each('transition'), incident: each('incident') }
}
