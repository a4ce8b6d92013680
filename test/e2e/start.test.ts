import { spawn, type ChildProcess } from 'node:child_process'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, describe, expect, it } from 'vitest'
import { SERVICE_NAMES, SERVICES, type ServiceName } from '../../platform/services.ts'
import { answersHealth } from '../../scripts/lib/supervisor.ts'
import { freePorts, isListening } from '../support/free-ports.ts'

// `npm start` as a user runs it: the real script, every service as its own process, on free
// ports and the test database. Done when all seven answer /health and SIGTERM stops them all.

const root = path.resolve(import.meta.dirname, '../..')
const tsxCli = path.join(root, 'node_modules/tsx/dist/cli.mjs')
const READY_WITHIN_MS = 60_000
const STOPPED_WITHIN_MS = 30_000

let start: ChildProcess | undefined

afterAll(async () => {
  // Only when the test failed half-way: never leave the system running.
  if (!start || start.exitCode !== null || start.signalCode !== null) return
  start.kill('SIGTERM')
  await Promise.race([new Promise((resolve) => start!.once('exit', resolve)), sleep(STOPPED_WITHIN_MS)])
  start.kill('SIGKILL')
})

describe('npm start', () => {
  it('answers /health on all seven ports, then stops every process on SIGTERM with exit code 0', async () => {
    const picked = await freePorts(SERVICE_NAMES.length)
    const ports = Object.fromEntries(SERVICE_NAMES.map((name, index) => [name, picked[index]!])) as Record<ServiceName, number>
    const env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: process.env.DATABASE_URL, HOST: '127.0.0.1', LOG_LEVEL: 'info' }
    for (const name of SERVICE_NAMES) {
      env[SERVICES[name].portEnv] = String(ports[name])
      delete env[SERVICES[name].urlEnv]
    }

    let output = ''
    const child = spawn(process.execPath, [tsxCli, 'scripts/start.ts'], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] })
    start = child
    child.stdout!.on('data', (chunk: Buffer) => { output += chunk.toString() })
    child.stderr!.on('data', (chunk: Buffer) => { output += chunk.toString() })
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      child.once('exit', (code, signal) => resolve({ code, signal }))
    })

    const deadline = Date.now() + READY_WITHIN_MS
    let waiting: ServiceName[] = [...SERVICE_NAMES]
    while (waiting.length && Date.now() < deadline && child.exitCode === null) {
      const answered = await Promise.all(waiting.map((name) => answersHealth(`http://127.0.0.1:${ports[name]}/health`)))
      waiting = waiting.filter((_, index) => !answered[index])
      if (waiting.length) await sleep(250)
    }
    expect(waiting, `still not healthy; output:\n${output}`).toEqual([])
    await expect.poll(() => output, { timeout: 5_000 }).toContain(`http://127.0.0.1:${ports.orchestrator}/docs`)

    child.kill('SIGTERM')
    const exit = await Promise.race([exited, sleep(STOPPED_WITHIN_MS, 'still running' as const)])

    expect(exit, `output:\n${output}`).toEqual({ code: 0, signal: null })
    for (const name of SERVICE_NAMES) {
      expect(await isListening(ports[name]), `${name} still listens on ${ports[name]}`).toBe(false)
    }
  }, READY_WITHIN_MS + STOPPED_WITHIN_MS + 30_000)
})
