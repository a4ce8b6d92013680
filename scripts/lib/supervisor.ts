import { spawn, type ChildProcess } from 'node:child_process'
import http from 'node:http'
import net from 'node:net'
import path from 'node:path'
import readline from 'node:readline'
import { setTimeout as sleep } from 'node:timers/promises'
import { pathToFileURL } from 'node:url'
import { prettyFactory } from 'pino-pretty'
import { nodeArgs } from './service-entries.ts'

// Runs a set of services as child processes, the way `npm start` runs the seven of them:
// spawn, wait until each answers its health URL, merge their logs into one stream, and stop
// them all together. Policy: the system runs whole or not at all. A service that fails to
// come up, or stops on its own later, brings the others down and is named in the log.
// No child outlives the supervisor, however it ends (kill -9 included): each one has an IPC
// channel to it and preloads exit-with-parent.mjs, which stops the child when that channel
// closes or its parent changes.

export interface ManagedService {
  name: string
  /** Script the child runs: TypeScript under tsx, JavaScript as it is (see SupervisorOptions.command). */
  entry: string
  /** Answers 2xx once the service is up. */
  healthUrl: string
  /** Added to the shared environment for this child only. */
  env?: NodeJS.ProcessEnv
}

export interface SupervisorOptions {
  services: ManagedService[]
  /** Name of the supervisor's own lines in the merged stream. Default: "supervisor" */
  name?: string
  /** Default: process.cwd() */
  cwd?: string
  /** Environment of every child; each also gets LOG_FORMAT=json. Default: process.env */
  env?: NodeJS.ProcessEnv
  /** Where the merged log goes. Default: process.stdout */
  output?: NodeJS.WritableStream
  /**
   * Prettify JSON log lines (pino-pretty) instead of passing them through unchanged.
   * Default: true when `output` is a terminal.
   */
  pretty?: boolean
  /** How long every service has to answer its health URL. Default: 60000 ms */
  readyTimeoutMs?: number
  /**
   * How long services have to exit after SIGTERM before they are killed. Default: 20000 ms,
   * above the longest drain a service gives itself (close-with-grace: 10 s, orchestrator 15 s).
   */
  stopTimeoutMs?: number
  /** The program and arguments that run a service. Default: this Node on `entry` (lib/service-entries.ts nodeArgs). */
  command?: (service: ManagedService) => { file: string; args: string[] }
}

export interface ServiceExit {
  name: string
  code: number | null
  signal: NodeJS.Signals | null
}

export interface SupervisionResult {
  /** "stopped": stop() was asked for; "failed": a service did not come up; "crashed": one stopped on its own. */
  reason: 'stopped' | 'failed' | 'crashed'
  /** What went wrong, for "failed" and "crashed". */
  message?: string
  /** The service that failed or crashed. */
  culprit?: string
  exits: ServiceExit[]
}

export interface Supervisor {
  /**
   * Spawns every service and resolves once all of them answer their health URL. When one
   * exits or stays silent past `readyTimeoutMs`, stops the others and rejects naming it.
   */
  start(): Promise<void>
  /** SIGTERM to every service, SIGKILL to those still running after `stopTimeoutMs`. Idempotent. */
  stop(): Promise<SupervisionResult>
  /** Settles once every service has exited, whatever the reason. */
  readonly done: Promise<SupervisionResult>
  /** SIGKILL to every service's process group now (a second Ctrl-C). */
  kill(): void
  /** Writes one line of the supervisor's own into the merged stream. */
  log(level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>): void
}

const LEVELS = { info: 30, warn: 40, error: 50 } as const

/**
 * Turns one output line of a service into what the merged stream shows. JSON lines (pino's
 * output) pass through unchanged, or prettified with the service name in front of every line
 * when `pretty`; other lines (a crash trace, a stray console.log) get the service name prefix.
 */
export function createLineFormatter(options: { pretty: boolean; colorize?: boolean; nameWidth?: number }): (service: string, line: string) => string {
  const colorize = options.pretty && (options.colorize ?? true)
  const width = options.nameWidth ?? 12
  const prettify = options.pretty
    ? prettyFactory({ colorize, singleLine: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,service' })
    : undefined
  const prefix = (service: string) => {
    const label = `${service.padEnd(width)} |`
    return colorize ? `\u001b[${colorCode(service)}m${label}\u001b[39m` : label
  }
  return (service, line) => {
    const record = parseLogRecord(line)
    if (!record) return `${prefix(service)} ${line}\n`
    if (!prettify) return `${line}\n`
    const text = prettify(record).replace(/\n$/, '')
    return text.split('\n').map((part) => `${prefix(String(record.service ?? service))} ${part}`).join('\n') + '\n'
  }
}

function parseLogRecord(line: string): Record<string, unknown> | undefined {
  if (!line.startsWith('{')) return undefined
  try {
    const value: unknown = JSON.parse(line)
    if (value && typeof value === 'object' && !Array.isArray(value) && 'level' in value) return value as Record<string, unknown>
  } catch {
    // Not JSON after all: shown as text.
  }
  return undefined
}

// One stable color per name, so a service keeps its color across lines and runs.
const PALETTE = [36, 35, 33, 32, 34, 96, 95, 93, 92, 94]
function colorCode(name: string): number {
  let hash = 0
  for (const char of name) hash = (hash * 31 + char.charCodeAt(0)) >>> 0
  return PALETTE[hash % PALETTE.length]!
}

/** GET `url` once: true on a 2xx. A fresh connection each time, so no keep-alive socket delays a service's shutdown. */
export function answersHealth(url: string, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const request = http.get(url, { agent: false, timeout: timeoutMs }, (response) => {
      response.resume()
      resolve(response.statusCode !== undefined && response.statusCode >= 200 && response.statusCode < 300)
    })
    request.on('timeout', () => request.destroy())
    request.on('error', () => resolve(false))
  })
}

/** True when nothing listens on `port` at `host` yet (checked by binding it for a moment). */
export function portIsFree(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer()
    server.once('error', () => resolve(false))
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)))
  })
}

/** The preload that stops a child when its supervisor is gone (see exit-with-parent.mjs). */
export const EXIT_WITH_PARENT = path.join(import.meta.dirname, 'exit-with-parent.mjs')

/**
 * `env` with exit-with-parent.mjs added to NODE_OPTIONS: every Node process started with it
 * (the tsx CLI and the service process tsx starts, which inherits it) stops when its parent
 * is gone. A file URL, so that a path with spaces survives NODE_OPTIONS' splitting.
 */
export function withExitWithParent(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const preload = `--import=${pathToFileURL(EXIT_WITH_PARENT).href}`
  return { ...env, NODE_OPTIONS: [env.NODE_OPTIONS, preload].filter(Boolean).join(' ') }
}

interface Running {
  service: ManagedService
  child: ChildProcess
  exit?: ServiceExit
  closed: Promise<ServiceExit>
  /** Records the exit (once); called by the child's 'close' or, as a last resort, by stop(). */
  finish: (code: number | null, signal: NodeJS.Signals | null) => void
}

/** A service did not come up: it stayed silent past the bound. */
class ServiceNotReady extends Error {
  constructor(readonly service: string, message: string) {
    super(message)
  }
}

/** After SIGKILL, how long to wait for the 'close' event before giving up on it. */
const KILL_GRACE_MS = 5_000

export function createSupervisor(options: SupervisorOptions): Supervisor {
  const output = options.output ?? process.stdout
  const pretty = options.pretty ?? Boolean((output as NodeJS.WriteStream).isTTY)
  const ownName = options.name ?? 'supervisor'
  const nameWidth = Math.max(ownName.length, ...options.services.map((service) => service.name.length))
  const format = createLineFormatter({ pretty, nameWidth })
  const readyTimeoutMs = options.readyTimeoutMs ?? 60_000
  const stopTimeoutMs = options.stopTimeoutMs ?? 20_000
  const command = options.command ?? ((service: ManagedService) => ({ file: process.execPath, args: nodeArgs(service.entry) }))
  const running: Running[] = []

  let outcome: Omit<SupervisionResult, 'exits'> | undefined
  let ready = false
  // Read through a function: callbacks (onExit, stop) set it, which TypeScript's narrowing
  // of a local cannot see across an await.
  const currentOutcome = () => outcome
  let stopping: Promise<SupervisionResult> | undefined
  let resolveDone!: (result: SupervisionResult) => void
  const done = new Promise<SupervisionResult>((resolve) => { resolveDone = resolve })

  const write = (text: string) => {
    output.write(text)
  }
  const log: Supervisor['log'] = (level, message, fields = {}) => {
    write(format(ownName, JSON.stringify({ level: LEVELS[level], time: new Date().toISOString(), service: ownName, ...fields, msg: message })))
  }
  const describe = (exit: ServiceExit) => (exit.signal ? `signal ${exit.signal}` : `exit code ${exit.code}`)

  // Children run in their own process group: a Ctrl-C on the terminal reaches only us, and we
  // send each one SIGTERM exactly once (a second signal makes close-with-grace exit at once).
  // The group also lets SIGKILL reach tsx's own child process, which holds the port.
  const killGroup = (entry: Running, signal: NodeJS.Signals) => {
    if (entry.exit || entry.child.pid === undefined) return
    try {
      process.kill(process.platform === 'win32' ? entry.child.pid : -entry.child.pid, signal)
    } catch {
      // Already gone.
    }
  }
  const killAll = () => { for (const entry of running) killGroup(entry, 'SIGKILL') }

  const spawnService = (service: ManagedService): Running => {
    const { file, args } = command(service)
    const child = spawn(file, args, {
      cwd: options.cwd ?? process.cwd(),
      env: withExitWithParent({ ...(options.env ?? process.env), ...service.env, LOG_FORMAT: 'json' }),
      // The channel is the child's lifeline: it closes when this process dies.
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      detached: process.platform !== 'win32',
    })
    for (const stream of [child.stdout, child.stderr]) {
      if (stream) readline.createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => write(format(service.name, line)))
    }
    let resolveClosed!: (exit: ServiceExit) => void
    const entry: Running = {
      service,
      child,
      closed: new Promise<ServiceExit>((resolve) => { resolveClosed = resolve }),
      finish: (code, signal) => {
        if (entry.exit) return
        entry.exit = { name: service.name, code, signal }
        resolveClosed(entry.exit)
        onExit(entry.exit)
      },
    }
    // 'close' comes after the output pipes end: every log line is out, and tsx's child,
    // which shares the pipes, has exited too (the port is free).
    child.once('close', entry.finish)
    child.once('error', (error) => {
      write(format(service.name, `could not be started: ${error.message}`))
      entry.finish(null, null)
    })
    return entry
  }

  const finished = () => {
    process.removeListener('exit', killAll)
    resolveDone({ ...(outcome ?? { reason: 'stopped' }), exits: running.flatMap((entry) => (entry.exit ? [entry.exit] : [])) })
  }

  const onExit = (exit: ServiceExit) => {
    if (!outcome) {
      outcome = ready
        ? { reason: 'crashed', culprit: exit.name, message: `${exit.name} stopped unexpectedly (${describe(exit)})` }
        : { reason: 'failed', culprit: exit.name, message: `${exit.name} exited before it was ready (${describe(exit)})` }
      log('error', `${outcome.message}; stopping the other services`)
      void stop()
    }
    if (running.every((entry) => entry.exit)) finished()
  }

  const stop = (): Promise<SupervisionResult> => {
    outcome ??= { reason: 'stopped' }
    if (running.every((entry) => entry.exit)) finished()
    stopping ??= (async () => {
      for (const entry of running) {
        // To the tsx process only: it relays the signal to the service once.
        if (!entry.exit) entry.child.kill('SIGTERM')
      }
      const all = Promise.all(running.map((entry) => entry.closed)).then(() => true)
      if (await Promise.race([all, sleep(stopTimeoutMs, false, { ref: false })])) return done
      const stragglers = running.filter((entry) => !entry.exit)
      for (const entry of stragglers) {
        log('warn', `${entry.service.name} did not stop within ${stopTimeoutMs / 1000}s; killing it`)
        killGroup(entry, 'SIGKILL')
      }
      // A process that outlives SIGKILL's grace (a grandchild in another group holding the
      // pipes) must not hang the stop: record it as killed and report.
      if (!(await Promise.race([all, sleep(KILL_GRACE_MS, false, { ref: false })]))) {
        for (const entry of stragglers) entry.finish(null, 'SIGKILL')
      }
      return done
    })()
    return stopping
  }

  const waitHealthy = async (entry: Running, deadline: number): Promise<void> => {
    const { name, healthUrl } = entry.service
    for (;;) {
      if (outcome) throw new Error(outcome.message ?? 'stopped')
      if (await answersHealth(healthUrl)) return
      if (Date.now() > deadline) throw new ServiceNotReady(name, `${name} did not answer ${healthUrl} within ${readyTimeoutMs / 1000}s`)
      await Promise.race([sleep(250), entry.closed])
    }
  }

  const start = async (): Promise<void> => {
    if (running.length) throw new Error('Supervisor already started')
    if (outcome) throw new Error('Supervisor stopped before it started')
    // Never leave children behind when this process ends without stopping them.
    process.once('exit', killAll)
    for (const service of options.services) running.push(spawnService(service))
    const deadline = Date.now() + readyTimeoutMs
    try {
      await Promise.all(running.map((entry) => waitHealthy(entry, deadline)))
      // A service may have exited right after another one's health check answered.
      const settled = currentOutcome()
      if (settled) throw new Error(settled.message ?? 'stopped')
      ready = true
    } catch (error) {
      let failure = currentOutcome()
      if (!failure) {
        const message = (error as Error).message
        failure = outcome = { reason: 'failed', message, ...(error instanceof ServiceNotReady ? { culprit: error.service } : {}) }
        log('error', `${message}; stopping the other services`)
      }
      await stop()
      throw new Error(failure.message ?? 'stopped before every service was up')
    }
  }

  return { start, stop, done, kill: killAll, log }
}
