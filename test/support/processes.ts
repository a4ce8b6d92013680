import { type ChildProcess, spawn } from 'node:child_process'
import path from 'node:path'
import { SERVICES, type ServiceName } from '../../platform/services.ts'
import { compiledEntry, nodeArgs, serviceEntry } from '../../scripts/lib/service-entries.ts'
import { withExitWithParent } from '../../scripts/lib/supervisor.ts'
import { freePorts } from './free-ports.ts'

/**
 * Real service processes for cross-process suites: each one started as `npm run service`
 * would (tsx on its entry point, or with `compiled` its compiled build), on a free port, and stopped for sure at the end.
 */

const ROOT = path.resolve(import.meta.dirname, '../..')


export interface SpawnOptions {
  /** Longest wait for `GET /health` to answer 200. Default: 20000 ms. */
  readyTimeoutMs?: number
  /** Flags for the service's node process (e.g. `--cpu-prof`; see nodeArgs). */
  nodeFlags?: string[]
  /** Run the compiled build (dist/, as production does; the caller makes sure it is current), not the sources under tsx. */
  compiled?: boolean
}

export interface RunningService {
  name: ServiceName
  url: string
  port: number
  child: ChildProcess
  /** Resolves with the exit code (null when ended by a signal) once the process is gone. */
  exited: Promise<number | null>
  /** Everything the process wrote to stdout and stderr so far (for failure messages). */
  output(): string
  /** Sends `signal` (default SIGTERM), escalates to SIGKILL after `graceMs` (default 10000 ms). */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<number | null>
}

const running = new Set<RunningService>()
const commands = new Set<RunningCommand>()

// Whatever happens to the test run, no service outlives it.
process.once('exit', () => {
  for (const service of running) killGroup(service.child, 'SIGKILL')
  for (const command of commands) killGroup(command.child, 'SIGKILL')
})

/** A TCP port nothing listens on right now. */
export async function freePort(): Promise<number> {
  return (await freePorts(1))[0]!
}

/**
 * Starts a service on a free port (unless `env` names its `<NAME>_PORT`) with HOST=127.0.0.1,
 * LOG_FORMAT=json, LOG_LEVEL=info and this process's environment (so DATABASE_URL is the test
 * database under vitest), and resolves once `/health` answers. Rejects with the process's
 * output when it exits or stays unhealthy too long.
 */
export async function spawnService(name: ServiceName, env: NodeJS.ProcessEnv = {}, options: SpawnOptions = {}): Promise<RunningService> {
  const portEnv = SERVICES[name].portEnv
  const port = env[portEnv] ? Number(env[portEnv]) : await freePort()
  const childEnv: NodeJS.ProcessEnv = { ...process.env, HOST: '127.0.0.1', LOG_FORMAT: 'json', LOG_LEVEL: 'info', ...env, [portEnv]: String(port) }
  // Under vitest the logger would be silent; a real process should log like one.
  delete childEnv.VITEST
  const args = nodeArgs(options.compiled ? compiledEntry(name) : serviceEntry(name), options.nodeFlags)
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    // A test process killed with SIGKILL runs no 'exit' hook: the service then stops by itself.
    env: withExitWithParent(childEnv),
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group, so that stopping it also stops the node process tsx starts.
    detached: true,
  })
  let output = ''
  const collect = (chunk: Buffer) => { output = (output + chunk.toString()).slice(-64 * 1024) }
  child.stdout!.on('data', collect)
  child.stderr!.on('data', collect)
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => resolve(code))
    child.once('error', () => resolve(null))
  })

  const url = `http://127.0.0.1:${port}`
  const service: RunningService = {
    name, url, port, child, exited,
    output: () => output,
    async stop(signal = 'SIGTERM', graceMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode
      killGroup(child, signal)
      const code = await Promise.race([exited, delay(graceMs).then(() => 'timeout' as const)])
      if (code !== 'timeout') return code
      killGroup(child, 'SIGKILL')
      return exited
    },
  }
  running.add(service)
  void exited.then(() => running.delete(service))

  const ready = await waitForHealth(url, exited, options.readyTimeoutMs ?? 20_000)
  if (ready !== 'healthy') {
    await service.stop('SIGKILL')
    throw new Error(`${name} ${ready === 'exited' ? 'exited' : 'did not become healthy'} before answering /health on ${url}:\n${output}`)
  }
  return service
}

/** Stops every service still running (for afterAll). */
export async function stopAll(): Promise<void> {
  for (const command of commands) killGroup(command.child, 'SIGKILL')
  // A paused (SIGSTOPped) service would hold its SIGTERM until the grace period ends.
  for (const service of running) killGroup(service.child, 'SIGCONT')
  await Promise.all([...running].map((service) => service.stop()))
}

/**
 * Sends a signal to a service's whole process group: SIGSTOP pauses it (a process frozen in
 * the middle of its work, as on a long GC pause or a suspended VM), SIGCONT resumes it.
 */
export function signalService(service: RunningService, signal: NodeJS.Signals): void {
  killGroup(service.child, signal)
}

export interface RunningCommand {
  child: ChildProcess
  /** Resolves once the process is gone: its exit code, or the signal that ended it. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  /** Everything written to stdout and stderr so far. */
  output(): string
  /** Sends `signal` to the command's process group. */
  kill(signal: NodeJS.Signals): void
}

/**
 * Runs a repository script under tsx as its own process group (e.g. the saga CLI:
 * `runScript('orchestrator/src/cli/main.ts', ['recover'])`), with this process's environment
 * plus `env`. Killed for sure by stopAll() and when the test run exits.
 */
export function runScript(entry: string, args: string[], env: NodeJS.ProcessEnv = {}): RunningCommand {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env }
  delete childEnv.VITEST
  const child = spawn(process.execPath, [...nodeArgs(entry), ...args], { cwd: ROOT, env: withExitWithParent(childEnv), stdio: ['ignore', 'pipe', 'pipe'], detached: true })
  let output = ''
  const collect = (chunk: Buffer) => { output = (output + chunk.toString()).slice(-256 * 1024) }
  child.stdout!.on('data', collect)
  child.stderr!.on('data', collect)
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }))
    child.once('error', () => resolve({ code: null, signal: null }))
  })
  const command: RunningCommand = { child, exited, output: () => output, kill: (signal) => killGroup(child, signal) }
  commands.add(command)
  void exited.then(() => commands.delete(command))
  return command
}

async function waitForHealth(url: string, exited: Promise<unknown>, timeoutMs: number): Promise<'healthy' | 'exited' | 'timeout'> {
  let gone = false
  void exited.then(() => { gone = true })
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (gone) return 'exited'
    try {
      const response = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1_000) })
      if (response.ok) return 'healthy'
    } catch {
      // Not listening yet.
    }
    await delay(100)
  }
  return 'timeout'
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return
  try {
    process.kill(-child.pid, signal)
  } catch {
    // The group is gone already.
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
