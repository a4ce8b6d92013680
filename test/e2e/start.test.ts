import { spawn, type ChildProcess } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterEach, describe, expect, it } from 'vitest'
import { SERVICE_NAMES, SERVICES, type ServiceName } from '../../platform/services.ts'
import { buildIsCurrent } from '../../scripts/lib/build.ts'
import { isAlive } from '../../scripts/lib/pid.ts'
import { compiledEntry } from '../../scripts/lib/service-entries.ts'
import { answersHealth } from '../../scripts/lib/supervisor.ts'
import { freePorts, isListening } from '../support/free-ports.ts'

// `npm start` as a user runs it: the real script, every service as its own process, on free
// ports and the test database. Done when all seven answer /health and SIGTERM stops them all,
// and when nothing it started outlives it after a kill -9 of npm or of the supervisor.

const root = path.resolve(import.meta.dirname, '../..')
const tsxCli = path.join(root, 'node_modules/tsx/dist/cli.mjs')
const READY_WITHIN_MS = 60_000
const STOPPED_WITHIN_MS = 30_000
/** The contract: the processes npm start started never outlive it. Measured: 0.3 s (supervisor), 2.3 s (npm). */
const ORPHANS_GONE_WITHIN_MS = 5_000

interface Started {
  child: ChildProcess
  ports: Record<ServiceName, number>
  output(): string
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

const started: Started[] = []

afterEach(async () => {
  // Only when a test failed half-way: never leave the system running.
  for (const run of started.splice(0)) {
    if (run.child.exitCode !== null || run.child.signalCode !== null) continue
    run.child.kill('SIGTERM')
    await Promise.race([run.exited, sleep(STOPPED_WITHIN_MS)])
    run.child.kill('SIGKILL')
  }
})

/** Runs `command` (npm start, or tsx on scripts/start.ts) on free ports and waits until all seven services answer. */
async function startSystem(command: { file: string; args: string[] }, extraEnv: NodeJS.ProcessEnv = {}): Promise<Started> {
  const picked = await freePorts(SERVICE_NAMES.length)
  const ports = Object.fromEntries(SERVICE_NAMES.map((name, index) => [name, picked[index]!])) as Record<ServiceName, number>
  const env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: process.env.DATABASE_URL, HOST: '127.0.0.1', LOG_LEVEL: 'info', ...extraEnv }
  delete env.VITEST
  for (const name of SERVICE_NAMES) {
    env[SERVICES[name].portEnv] = String(ports[name])
    delete env[SERVICES[name].urlEnv]
  }
  let output = ''
  const child = spawn(command.file, command.args, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] })
  child.stdout!.on('data', (chunk: Buffer) => { output += chunk.toString() })
  child.stderr!.on('data', (chunk: Buffer) => { output += chunk.toString() })
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }))
  })
  const run: Started = { child, ports, output: () => output, exited }
  started.push(run)

  const deadline = Date.now() + READY_WITHIN_MS
  let waiting: ServiceName[] = [...SERVICE_NAMES]
  while (waiting.length && Date.now() < deadline && child.exitCode === null) {
    const answered = await Promise.all(waiting.map((name) => answersHealth(`http://127.0.0.1:${ports[name]}/health`)))
    waiting = waiting.filter((_, index) => !answered[index])
    if (waiting.length) await sleep(250)
  }
  expect(waiting, `still not healthy; output:\n${output}`).toEqual([])
  await expect.poll(() => output, { timeout: 5_000 }).toContain(`http://127.0.0.1:${ports.orchestrator}/docs`)
  return run
}

/** Ports of `run` that something still listens on. */
async function listening(run: Started): Promise<string[]> {
  const open = await Promise.all(SERVICE_NAMES.map(async (name) => ((await isListening(run.ports[name])) ? `${name}:${run.ports[name]}` : undefined)))
  return open.filter((entry): entry is string => entry !== undefined)
}

/** Waits until no port of `run` listens; answers how long that took, or the ports still open. */
async function portsClosed(run: Started, withinMs: number): Promise<{ afterMs: number; open: string[] }> {
  const began = Date.now()
  for (;;) {
    const open = await listening(run)
    if (!open.length || Date.now() - began > withinMs) return { afterMs: Date.now() - began, open }
    await sleep(100)
  }
}

/** Every process below `pid` (Linux /proc), nearest first. */
function descendants(pid: number): { pid: number; args: string }[] {
  const children = new Map<number, number[]>()
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)])
    } catch {
      // Gone while we looked.
    }
  }
  const found: { pid: number; args: string }[] = []
  const queue = [...(children.get(pid) ?? [])]
  while (queue.length) {
    const next = queue.shift()!
    try {
      found.push({ pid: next, args: readFileSync(`/proc/${next}/cmdline`, 'utf8').split('\0').join(' ') })
    } catch {
      continue
    }
    queue.push(...(children.get(next) ?? []))
  }
  return found
}

describe('npm start', () => {
  it('answers /health on all seven ports, then stops every process on SIGTERM with exit code 0', async () => {
    const run = await startSystem({ file: process.execPath, args: [tsxCli, 'scripts/start.ts'] })
    expect(run.output()).toMatch(/^PostgreSQL {2}\S/m)
    expect(run.output()).toMatch(/^Redis {7}\S/m)

    run.child.kill('SIGTERM')
    const exit = await Promise.race([run.exited, sleep(STOPPED_WITHIN_MS, 'still running' as const)])

    expect(exit, `output:\n${run.output()}`).toEqual({ code: 0, signal: null })
    expect(await listening(run)).toEqual([])
  }, READY_WITHIN_MS + STOPPED_WITHIN_MS + 30_000)

  it.runIf(process.platform === 'linux')('with NODE_ENV=production runs every service from the compiled build, without tsx', async () => {
    const production = {
      NODE_ENV: 'production',
      API_TOKENS: 'client:start-test-client-token,support:start-test-support-token',
      SERVICE_TOKENS: 'orchestrator:start-test-service-token',
      STRIPE_SECRET_KEY: '',
    }
    const run = await startSystem({ file: process.execPath, args: [tsxCli, 'scripts/start.ts'] }, production)
    const services = descendants(run.child.pid!).filter(({ args }) => /\/dist\/\S+\.js/.test(args))

    expect(services.map(({ args }) => path.relative(root, /\S+\/dist\/\S+\.js/.exec(args)![0])).sort())
      .toEqual(SERVICE_NAMES.map((name) => path.relative(root, compiledEntry(name))).sort())
    for (const { args } of services) expect(args).not.toMatch(/tsx/)
    expect(buildIsCurrent()).toBe(true)
    // The UI's files are read from beside the compiled code.
    expect((await fetch(`http://127.0.0.1:${run.ports.orchestrator}/ui`)).status).toBe(200)

    run.child.kill('SIGTERM')
    const exit = await Promise.race([run.exited, sleep(STOPPED_WITHIN_MS, 'still running' as const)])
    expect(exit, `output:\n${run.output()}`).toEqual({ code: 0, signal: null })
    expect(await listening(run)).toEqual([])
  }, READY_WITHIN_MS + STOPPED_WITHIN_MS + 60_000)

  it.runIf(process.platform === 'linux')('leaves no service behind when npm itself is killed with SIGKILL', async () => {
    const run = await startSystem({ file: 'npm', args: ['start'] })
    const tree = descendants(run.child.pid!)

    run.child.kill('SIGKILL')
    const closed = await portsClosed(run, ORPHANS_GONE_WITHIN_MS)

    expect(closed.open, `still listening ${closed.afterMs} ms after kill -9 of npm; output:\n${run.output().slice(-4_000)}`).toEqual([])
    await expect.poll(() => tree.filter(({ pid }) => isAlive(pid)).map(({ args }) => args), { timeout: ORPHANS_GONE_WITHIN_MS }).toEqual([])
    console.log(`[npm start] kill -9 of npm: every port closed after ${closed.afterMs} ms`)
  }, READY_WITHIN_MS + 30_000)

  it.runIf(process.platform === 'linux')('leaves no service behind when the supervisor is killed with SIGKILL', async () => {
    const run = await startSystem({ file: process.execPath, args: [tsxCli, 'scripts/start.ts'] })
    const tree = descendants(run.child.pid!)
    // The Node process that runs scripts/start.ts, below the tsx CLI.
    const supervisor = tree.find(({ args }) => args.includes('scripts/start.ts') && !args.includes('tsx/dist/cli.mjs'))
    expect(supervisor, JSON.stringify(tree)).toBeDefined()

    process.kill(supervisor!.pid, 'SIGKILL')
    const closed = await portsClosed(run, ORPHANS_GONE_WITHIN_MS)

    expect(closed.open, `still listening ${closed.afterMs} ms after kill -9 of the supervisor; output:\n${run.output().slice(-4_000)}`).toEqual([])
    await expect.poll(() => tree.filter(({ pid }) => isAlive(pid)).map(({ args }) => args), { timeout: ORPHANS_GONE_WITHIN_MS }).toEqual([])
    console.log(`[npm start] kill -9 of the supervisor: every port closed after ${closed.afterMs} ms`)
  }, READY_WITHIN_MS + 30_000)
})
