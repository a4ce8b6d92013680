import os from 'node:os'
import { Argument, Command, InvalidArgumentError, Option } from 'commander'
import { type Config, loadConfig } from '../../../platform/config.ts'
import { AppError } from '../../../platform/errors.ts'
import { createLogger } from '../../../platform/logger.ts'
import { createOrchestrator, type OrchestratorGraph } from '../application/create-orchestrator.ts'
import type { Orchestrator } from '../application/orchestrator.ts'
import type { SagaView } from '../application/saga-view.ts'
import { BULK_ACTIONS, type OperatorAction, requiresReason } from '../engine/operator-actions.ts'
import type { RecoveryProgress } from '../engine/recover-pending-sagas.ts'
import { isTerminal, SAGA_STATUSES, type SagaStatus } from '../engine/saga-instance.ts'
import { addDevTokenCommand } from './dev-token.ts'
import { addEventCommands } from './events-commands.ts'

/** Exit codes: 0 everything touched is terminal; 1 something is not; 2 bad usage; 3 not found. */
export const EXIT = { ok: 0, notTerminal: 1, usage: 2, notFound: 3 } as const

export interface CliIo {
  out: (line: string) => void
  err: (line: string) => void
  isTTY: boolean
}

export interface CliOptions {
  /** Default: loadConfig(), the process environment. */
  config?: Config
  io?: CliIo
}

/** Default bound of `recover` and of the wait after an action, in seconds. */
const DEFAULT_TIMEOUT_S = 180

/**
 * `npm run saga -- <command>`: the recovery and operations CLI, on the same operations as the
 * HTTP API. It drives sagas itself (taking them over by lease), so it works with or without a
 * running orchestrator and never runs a saga that a live orchestrator still owns. Every
 * command ends in bounded time with a summary line; what is still running when it ends is
 * left to the orchestrators' background recovery (the CLI hands its leases back as it exits).
 */
export async function runSagaCli(argv: string[], options: CliOptions = {}): Promise<number> {
  const io = options.io ?? { out: console.log, err: console.error, isTTY: Boolean(process.stdout.isTTY) }
  const config = options.config ?? loadConfig()
  const actor = `cli:${safeUsername()}`
  let graph: OrchestratorGraph | undefined
  const open = (): Orchestrator => {
    graph ??= createOrchestrator(config, {
      logger: createLogger({ service: 'saga-cli', level: config.LOG_LEVEL ?? 'warn', format: 'json' }),
      instanceId: `cli-${process.pid}-${Date.now().toString(36)}`,
      recoveryIntervalMs: 0,
    })
    graph.orchestrator.startLeaseRenewal()
    return graph.orchestrator
  }
  let exitCode: number = EXIT.ok

  const program = new Command('saga')
    .description('Inspect, recover and operate sagas')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()) })

  program.command('recover')
    .description('Take over sagas whose owner stopped and drive each to a terminal state (or until --timeout)')
    .option('--older-than <seconds>', 'only sagas untouched for this long', seconds, 0)
    .option('--dry-run', 'list what would be recovered; change nothing')
    .option('--concurrency <n>', 'sagas driven at once', positive, 16)
    .option('--timeout <seconds>', 'stop waiting after this long; what still runs is left to the orchestrators', seconds, DEFAULT_TIMEOUT_S)
    .action(async (opts: { olderThan: number; dryRun?: boolean; concurrency: number; timeout: number }) => {
      const o = open()
      let done = 0
      let total = 0
      const progress = (event: RecoveryProgress) => {
        if (event.type === 'found') {
          total = event.total
          io.out(opts.dryRun ? `${total} saga(s) would be recovered` : `Found ${total} saga(s) to recover`)
          if (event.leftAlone) io.out(`${event.leftAlone} orphaned saga(s) started on a definition version this orchestrator does not have: left alone`)
        } else if (event.type === 'settled') {
          done++
          io.out(`${io.isTTY ? `[${done}/${total}] ` : ''}${event.sagaId} ${event.status}`)
        } else if (event.type === 'skipped') {
          io.out(`${event.sagaId} skipped: ${event.reason}`)
        } else if (event.type === 'timeout') {
          io.out(`Timed out after ${opts.timeout} s: ${event.stillRunning} saga(s) still running are left to the orchestrators`)
          for (const id of event.sagaIds.slice(0, 50)) io.out(`${id} still running`)
        }
      }
      const summary = await o.recoverPendingSagas({ olderThanMs: opts.olderThan * 1000, dryRun: Boolean(opts.dryRun), concurrency: opts.concurrency, timeoutMs: opts.timeout * 1000, onProgress: progress })
      if (opts.dryRun) {
        for (const id of summary.sagaIds) {
          const saga = await o.getSaga(id)
          io.out(`${saga.id} ${saga.type} ${saga.status} ${saga.state} (updated ${saga.updatedAt.toISOString()})`)
        }
        return
      }
      io.out(`Summary: found ${summary.found}, recovered ${summary.recovered}, completed ${summary.completed}, failed ${summary.failed}, ` +
        `compensation failed ${summary.compensationFailed}, parked ${summary.parked}, still running ${summary.stillRunning}, skipped ${summary.skipped}, ` +
        `left alone ${summary.leftAlone}`)
      if (summary.compensationFailed || summary.parked || summary.stillRunning) exitCode = EXIT.notTerminal
    })

  program.command('list')
    .description('List sagas, newest first')
    .addOption(new Option('--status <status>', 'only this status').choices(SAGA_STATUSES))
    .option('--type <type>', 'saga type, e.g. tour-booking')
    .option('--incident <code>', 'waiting sagas with this incident code, e.g. PAUSED')
    .option('--step <step>', 'waiting sagas parked at this step')
    .option('--limit <n>', 'at most this many', positive, 50)
    .action(async (opts: { status?: SagaStatus; type?: string; incident?: string; step?: string; limit: number }) => {
      const page = await open().listSagas({
        limit: opts.limit,
        ...(opts.status ? { status: opts.status } : {}),
        ...(opts.type ? { type: opts.type } : {}),
        ...(opts.incident ? { incidentCode: opts.incident } : {}),
        ...(opts.step ? { step: opts.step } : {}),
      })
      for (const saga of page.items) {
        const why = saga.incident ? `${saga.incident.code} at ${saga.incident.step}` : saga.error?.code ?? ''
        io.out([saga.sagaId, saga.type.padEnd(20), saga.status.padEnd(19), saga.state.padEnd(22), saga.updatedAt, why].join('  ').trimEnd())
      }
      io.out(`${page.items.length} saga(s)${page.nextCursor ? ' (more exist; use --limit)' : ''}`)
    })

  program.command('show')
    .description('Show one saga: its steps, its incident, what an operator can do, and its event log')
    .argument('<sagaId>')
    .option('--json', 'the saga view as JSON only')
    .action(async (sagaId: string, opts: { json?: boolean }) => {
      const o = open()
      const view = o.viewOf(await o.getSaga(sagaId))
      if (opts.json) return io.out(JSON.stringify(view, null, 2))
      io.out(`${view.sagaId} ${view.type} (definition ${view.definitionVersion}${view.definitionKnown === false ? ', not deployed here' : ''})`)
      io.out(`status ${view.status}, state ${view.state}${view.error ? `, error ${view.error.code} at ${view.error.step}` : ''}`)
      if (view.incident) {
        const i = view.incident
        io.out(`incident: ${i.code} at ${i.step} (${i.phase}, ${i.kind}) since ${i.since} after ${i.attempts} attempt(s): ${i.message}` +
          `${i.participant ? ` [${i.participant}${i.participantStatus ? ` ${i.participantStatus}` : ''}]` : ''}`)
      }
      io.out(`actions: ${view.actions.length ? view.actions.map((a) => `npm run saga -- ${a} ${view.sagaId}${requiresReason(a) ? ' --reason "…"' : ''}`).join(' | ') : 'none'}`)
      io.out('steps:')
      for (const step of view.steps) io.out(`  ${step.name} ${step.phase} ${step.status} (${step.attempts} attempt(s))${step.lastError ? ` ${step.lastError.code}: ${step.lastError.message}` : ''}`)
      io.out('log:')
      for (const event of await o.events(sagaId)) {
        const detail = event.detail as { actor?: string; reason?: string } | null
        io.out(`  ${event.createdAt.toISOString()} v${event.version} ${event.type} ${event.status}${event.step ? ` ${event.step}` : ''}${detail?.actor ? ` by ${detail.actor}` : ''}${detail?.reason ? `: ${detail.reason}` : ''}`)
      }
    })

  const actionCommand = (action: OperatorAction, description: string) => {
    const command = program.command(action)
      .description(description)
      .argument('<sagaId>')
      .option('--reason <text>', requiresReason(action) ? 'why (required; kept in the saga\'s event log)' : 'why (kept in the saga\'s event log)')
      .option('--timeout <seconds>', 'how long to wait for the saga to stop moving', seconds, DEFAULT_TIMEOUT_S)
    if (action === 'skip') command.option('--result <json>', 'the skipped step\'s result, as JSON', json)
    command.action(async (sagaId: string, opts: { reason?: string; timeout: number; result?: unknown }) => {
      if (requiresReason(action) && !opts.reason) throw new InvalidArgumentError(`${action} needs --reason`)
      const o = open()
      await o.act(sagaId, action, { actor, ...(opts.reason ? { reason: opts.reason } : {}), ...(opts.result !== undefined ? { result: opts.result } : {}) })
      exitCode = await settle(o, sagaId, opts.timeout, io)
    })
  }
  actionCommand('retry', 'Re-run a parked step (or take over a stuck saga) and drive it on')
  actionCommand('abort', 'Compensate a saga that has not passed its pivot')
  actionCommand('skip', 'Mark a parked forward step done by hand and drive the saga on')
  actionCommand('resolve', 'Close a failed compensation as undone by hand and go on compensating')
  actionCommand('pause', 'Stop driving a RUNNING or COMPENSATING saga (it becomes PARKED, incident PAUSED)')
  actionCommand('resume', 'Take a paused saga up again')

  addDevTokenCommand(program, { config, out: io.out })
  addEventCommands(program, { config, out: io.out, err: io.err, exit: (code) => { exitCode = code } })

  program.command('bulk')
    .description('One action on every saga matching a filter (at most 1000)')
    .addArgument(new Argument('<action>', `one of ${BULK_ACTIONS.join(', ')}`).choices(BULK_ACTIONS))
    .addOption(new Option('--status <status>').choices(SAGA_STATUSES))
    .option('--type <type>', 'saga type')
    .option('--step <step>', 'parked at this step')
    .option('--incident <code>', 'with this incident code')
    .option('--reason <text>', 'why (required for skip, resolve, pause)')
    .option('--dry-run', 'say what would be done; change nothing')
    .action(async (action: OperatorAction, opts: { status?: SagaStatus; type?: string; step?: string; incident?: string; reason?: string; dryRun?: boolean }) => {
      const filter = {
        ...(opts.status ? { status: opts.status } : {}),
        ...(opts.type ? { type: opts.type } : {}),
        ...(opts.step ? { step: opts.step } : {}),
        ...(opts.incident ? { incidentCode: opts.incident } : {}),
      }
      if (!Object.keys(filter).length) throw new InvalidArgumentError('give at least one of --status, --type, --step, --incident')
      if (requiresReason(action) && !opts.reason) throw new InvalidArgumentError(`${action} needs --reason`)
      const result = await open().bulk(action, filter, { actor, ...(opts.reason ? { reason: opts.reason } : {}) }, Boolean(opts.dryRun))
      for (const line of result.results) io.out(`${line.sagaId} ${line.outcome}${line.code ? ` ${line.code}: ${line.message}` : ` (${line.status})`}`)
      const done = result.results.filter((line) => line.outcome !== 'refused').length
      io.out(`${result.dryRun ? 'Dry run: ' : ''}${result.matched} matched, ${done} ${result.dryRun ? 'would be done' : 'done'}, ${result.results.length - done} refused`)
      if (done < result.results.length) exitCode = EXIT.notTerminal
    })

  try {
    await program.parseAsync(argv, { from: 'user' })
    return exitCode
  } catch (error) {
    if (error instanceof AppError) {
      io.err(`${error.code}: ${error.message}`)
      return error.code === 'SAGA_NOT_FOUND' ? EXIT.notFound : EXIT.notTerminal
    }
    if (error instanceof InvalidArgumentError) {
      io.err(`error: ${error.message}`)
      return EXIT.usage
    }
    const code = (error as { code?: string }).code
    if (code === 'commander.helpDisplayed' || code === 'commander.help' || code === 'commander.version') return EXIT.ok
    if (typeof code === 'string' && code.startsWith('commander.')) return EXIT.usage
    throw error
  } finally {
    await graph?.close()
  }
}

/** Waits (at most `timeoutS`) for a saga to stop moving and prints where it stands. */
async function settle(orchestrator: Orchestrator, sagaId: string, timeoutS: number, io: CliIo): Promise<number> {
  const saga = await orchestrator.waitForOutcome(sagaId, timeoutS * 1000)
  if (!saga) return EXIT.notFound
  const view: SagaView = orchestrator.viewOf(saga)
  io.out(`${saga.id} ${saga.status} ${saga.state}${saga.error ? ` (${saga.error.code} at ${saga.error.step})` : ''}` +
    `${view.incident ? `; waits for an operator: ${view.incident.code} at ${view.incident.step} (can: ${view.actions.join(', ')})` : ''}`)
  return isTerminal(saga.status) ? EXIT.ok : EXIT.notTerminal
}

function safeUsername(): string {
  try {
    return os.userInfo().username
  } catch {
    return 'unknown'
  }
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

function json(value: string): unknown {
  try {
    return JSON.parse(value)
  } catch {
    throw new InvalidArgumentError('must be JSON')
  }
}
