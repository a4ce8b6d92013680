import { Command, InvalidArgumentError } from 'commander'
import { AppError } from '../../../platform/errors.ts'
import { createDatabase } from '../../../platform/database.ts'
import { createLogger } from '../../../platform/logger.ts'
import { redisFromConfig } from '../../../platform/redis.ts'
import { loadConfig } from '../../../platform/config.ts'
import { serviceTokenOf } from '../../../platform/service-tokens.ts'
import { participantUrls } from '../../../platform/services.ts'
import { Orchestrator } from '../application/orchestrator.ts'
import { sagaSummary, sagaView } from '../application/saga-view.ts'
import type { RecoveryProgress } from '../engine/recover-pending-sagas.ts'
import { isTerminal, type SagaStatus } from '../engine/saga-instance.ts'
import { createSagaRegistry } from '../sagas/index.ts'
import { HttpCommandClient } from '../transport/http-command-client.ts'

/** Exit codes: 0 everything touched is terminal; 1 something is not; 2 bad usage; 3 not found. */
export const EXIT = { ok: 0, notTerminal: 1, usage: 2, notFound: 3 } as const

export interface CliIo {
  out: (line: string) => void
  err: (line: string) => void
  isTTY: boolean
}

const STATUSES: SagaStatus[] = ['RUNNING', 'COMPENSATING', 'COMPLETED', 'FAILED', 'COMPENSATION_FAILED']

/**
 * `npm run saga -- <command>`: the recovery CLI, on the same operations as the HTTP API.
 * It drives sagas itself (taking them over by lease), so it works with or without a running
 * orchestrator and never runs a saga that a live orchestrator still owns.
 */
export async function runSagaCli(argv: string[], io: CliIo = { out: console.log, err: console.error, isTTY: Boolean(process.stdout.isTTY) }): Promise<number> {
  const config = loadConfig()
  const logger = createLogger({ service: 'saga-cli', level: config.LOG_LEVEL ?? 'warn', format: 'json' })
  let orchestrator: Orchestrator | undefined
  const db = createDatabase({ url: config.DATABASE_URL, poolSize: config.DATABASE_POOL_SIZE })
  const redis = redisFromConfig(config, logger)
  const open = () => {
    orchestrator ??= new Orchestrator({
      db, redis, logger,
      registry: createSagaRegistry(config),
      transport: new HttpCommandClient({ baseUrls: participantUrls(config), token: serviceTokenOf(config) }),
      leaseTtlMs: config.SAGA_LEASE_TTL_MS,
      instanceId: `cli-${process.pid}-${Date.now().toString(36)}`,
      recoveryIntervalMs: 0,
    })
    orchestrator.startLeaseRenewal()
    return orchestrator
  }
  let exitCode: number = EXIT.ok

  const program = new Command('saga')
    .description('Inspect and recover sagas')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()) })

  program.command('recover')
    .description('Take over sagas whose owner stopped and drive each to a terminal state')
    .option('--older-than <seconds>', 'only sagas untouched for this long', seconds, 0)
    .option('--dry-run', 'list what would be recovered; change nothing')
    .option('--concurrency <n>', 'sagas driven at once', positive, 16)
    .action(async (options: { olderThan: number; dryRun?: boolean; concurrency: number }) => {
      const o = open()
      let done = 0
      let total = 0
      const progress = (event: RecoveryProgress) => {
        if (event.type === 'found') {
          total = event.total
          io.out(options.dryRun ? `${total} saga(s) would be recovered` : `Found ${total} saga(s) to recover`)
        } else if (event.type === 'settled') {
          done++
          io.out(`${io.isTTY ? `[${done}/${total}] ` : ''}${event.sagaId} ${event.status}`)
        } else if (event.type === 'skipped') {
          io.out(`${event.sagaId} skipped: ${event.reason}`)
        }
      }
      const summary = await o.recoverPendingSagas({ olderThanMs: options.olderThan * 1000, dryRun: Boolean(options.dryRun), concurrency: options.concurrency, onProgress: progress })
      if (options.dryRun) {
        for (const id of summary.sagaIds) {
          const saga = await o.store.findSaga(id)
          if (saga) io.out(`${saga.id} ${saga.type} ${saga.status} ${saga.state} (updated ${saga.updatedAt.toISOString()})`)
        }
        return
      }
      io.out(`Summary: found ${summary.found}, recovered ${summary.recovered}, completed ${summary.completed}, failed ${summary.failed}, ` +
        `compensation failed ${summary.compensationFailed}, still stuck ${summary.stillStuck}, skipped ${summary.skipped}`)
      if (summary.compensationFailed || summary.stillStuck) exitCode = EXIT.notTerminal
    })

  program.command('list')
    .description('List sagas, newest first')
    .option('--status <status>', `one of ${STATUSES.join(', ')}`, (value) => {
      if (!STATUSES.includes(value as SagaStatus)) throw new InvalidArgumentError(`must be one of ${STATUSES.join(', ')}`)
      return value
    })
    .option('--type <type>', 'saga type, e.g. tour-booking')
    .option('--limit <n>', 'at most this many', positive, 50)
    .action(async (options: { status?: SagaStatus; type?: string; limit: number }) => {
      const page = await open().listSagas({ limit: options.limit, ...(options.status ? { status: options.status } : {}), ...(options.type ? { type: options.type } : {}) })
      for (const saga of page.items.map(sagaSummary)) {
        io.out([saga.sagaId, saga.type.padEnd(20), saga.status.padEnd(19), saga.state.padEnd(22), saga.updatedAt, saga.error?.code ?? ''].join('  ').trimEnd())
      }
      io.out(`${page.items.length} saga(s)${page.nextCursor ? ' (more exist; use --limit)' : ''}`)
    })

  program.command('show')
    .description('Show one saga with its steps')
    .argument('<sagaId>')
    .action(async (sagaId: string) => {
      io.out(JSON.stringify(sagaView(await open().getSaga(sagaId)), null, 2))
    })

  program.command('retry')
    .description('Resume a stuck or COMPENSATION_FAILED saga and drive it to a terminal state')
    .argument('<sagaId>')
    .action(async (sagaId: string) => {
      const o = open()
      await o.retry(sagaId)
      exitCode = await settle(o, sagaId, io)
    })

  program.command('abort')
    .description('Compensate a RUNNING saga that has not passed its pivot')
    .argument('<sagaId>')
    .action(async (sagaId: string) => {
      const o = open()
      await o.abort(sagaId)
      exitCode = await settle(o, sagaId, io)
    })

  try {
    await program.parseAsync(argv, { from: 'user' })
    return exitCode
  } catch (error) {
    if (error instanceof AppError) {
      io.err(`${error.code}: ${error.message}`)
      return error.code === 'SAGA_NOT_FOUND' ? EXIT.notFound : EXIT.notTerminal
    }
    const code = (error as { code?: string }).code
    if (code === 'commander.helpDisplayed' || code === 'commander.help' || code === 'commander.version') return EXIT.ok
    if (typeof code === 'string' && code.startsWith('commander.')) return EXIT.usage
    throw error
  } finally {
    await orchestrator?.stop()
    await db.$disconnect()
    redis?.disconnect()
  }
}

/** Waits for a saga this process drives (or another owner drives) to stop moving. */
async function settle(orchestrator: Orchestrator, sagaId: string, io: CliIo): Promise<number> {
  const saga = await orchestrator.waitForOutcome(sagaId, 10 * 60_000)
  if (!saga) return EXIT.notFound
  io.out(`${saga.id} ${saga.status} ${saga.state}${saga.error ? ` (${saga.error.code} at ${saga.error.step})` : ''}`)
  return isTerminal(saga.status) ? EXIT.ok : EXIT.notTerminal
}

function seconds(value: string): number {
  const n = Number(value)
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError('must be a number of seconds >= 0')
  return n
}

function positive(value: string): number {
  const n = Number(value)
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a whole number >= 1')
  return n
}
