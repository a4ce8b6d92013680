import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { PassThrough } from 'node:stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freePorts, isListening } from '../../test/support/free-ports.ts'
import { runScript } from '../../test/support/processes.ts'
import { createLineFormatter, createSupervisor, type ManagedService, type Supervisor } from './supervisor.ts'

// A stand-in service: logs one pino-style JSON line and one plain line, then behaves as MODE
// says. "ok" serves /health and exits 0 on SIGTERM; GET /exit makes it exit with code 4.
const FAKE_SERVICE = `
import http from 'node:http'
const { PORT, MODE, NAME } = process.env
console.log(JSON.stringify({ level: 30, time: Date.now(), service: NAME, msg: 'booting' }))
console.log('plain text from ' + NAME)
if (MODE === 'crash-at-boot') { console.error('cannot boot'); process.exit(3) }
if (MODE === 'never-ready') { setInterval(() => {}, 1000) }
else {
  const server = http.createServer((req, res) => {
    if (req.url === '/exit') process.exit(4)
    res.end('ok')
  })
  server.listen(Number(PORT), '127.0.0.1')
  process.on('SIGTERM', () => {
    if (MODE === 'ignore-sigterm') return
    console.log(JSON.stringify({ level: 30, time: Date.now(), service: NAME, msg: 'stopping' }))
    server.close(() => process.exit(0))
  })
}
`

let dir: string
let script: string
const supervisors: Supervisor[] = []

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'supervisor-test-'))
  script = path.join(dir, 'fake-service.mjs')
  await writeFile(script, FAKE_SERVICE)
})

afterAll(async () => {
  for (const supervisor of supervisors) supervisor.kill()
  await rm(dir, { recursive: true, force: true })
})

function fakeService(name: string, port: number, mode = 'ok'): ManagedService {
  return { name, entry: script, healthUrl: `http://127.0.0.1:${port}/health`, env: { PORT: String(port), MODE: mode, NAME: name } }
}

function supervise(services: ManagedService[], options: { readyTimeoutMs?: number; stopTimeoutMs?: number } = {}) {
  const output = new PassThrough()
  let text = ''
  output.on('data', (chunk: Buffer) => { text += chunk.toString() })
  const supervisor = createSupervisor({
    services,
    output,
    pretty: false,
    command: (service) => ({ file: process.execPath, args: [service.entry] }),
    ...options,
  })
  supervisors.push(supervisor)
  return { supervisor, output: () => text }
}

describe('the merged log stream', () => {
  it('passes JSON lines through unchanged and prefixes other lines with the service name', () => {
    const format = createLineFormatter({ pretty: false, nameWidth: 7 })
    const json = JSON.stringify({ level: 30, time: 1, service: 'booking', msg: 'hello' })
    expect(format('booking', json)).toBe(`${json}\n`)
    expect(format('booking', 'TypeError: boom')).toBe('booking | TypeError: boom\n')
    expect(format('booking', '{ not json')).toBe('booking | { not json\n')
  })

  it('prettifies JSON lines on one line each, behind the service name', () => {
    const format = createLineFormatter({ pretty: true, colorize: false, nameWidth: 12 })
    const text = format('hotel', JSON.stringify({ level: 40, time: Date.now(), service: 'hotel', pid: 7, msg: 'room sold out', roomType: 'suite' }))
    expect(text).toMatch(/^hotel {8}\| \[[\d:.]+\] WARN: room sold out \{"roomType":"suite"\}\n$/)
  })

  it('keeps the service name in front of every line of a multi-line error', () => {
    const format = createLineFormatter({ pretty: true, colorize: false, nameWidth: 7 })
    const error = { type: 'Error', message: 'boom', stack: 'Error: boom\n    at handler (routes.ts:1:1)' }
    const lines = format('payment', JSON.stringify({ level: 50, time: Date.now(), service: 'payment', msg: 'failed', err: error })).trimEnd().split('\n')
    expect(lines.length).toBeGreaterThan(2)
    for (const line of lines) expect(line.startsWith('payment | ')).toBe(true)
    expect(lines.some((line) => line.includes('at handler (routes.ts:1:1)'))).toBe(true)
  })
})

describe('supervising services', () => {
  it('starts every service, resolves once all answer /health, and stops them all with exit code 0', async () => {
    const [a, b] = await freePorts(2)
    const { supervisor, output } = supervise([fakeService('alpha', a!), fakeService('beta', b!)])

    await supervisor.start()
    expect(await isListening(a!)).toBe(true)
    expect(await isListening(b!)).toBe(true)

    const result = await supervisor.stop()
    expect(result.reason).toBe('stopped')
    expect(result.exits.map((exit) => [exit.name, exit.code]).sort()).toEqual([['alpha', 0], ['beta', 0]])
    expect(await isListening(a!)).toBe(false)
    expect(await isListening(b!)).toBe(false)
    expect(output()).toContain('"msg":"stopping"')
    expect(output()).toMatch(/^alpha +\| plain text from alpha$/m)
    expect(output()).toMatch(/^beta +\| plain text from beta$/m)
  })

  it('names the service that exits before it is ready and stops the others', async () => {
    const [a, b] = await freePorts(2)
    const { supervisor, output } = supervise([fakeService('alpha', a!), fakeService('broken', b!, 'crash-at-boot')])

    await expect(supervisor.start()).rejects.toThrow('broken exited before it was ready (exit code 3)')
    const result = await supervisor.done
    expect(result).toMatchObject({ reason: 'failed', culprit: 'broken' })
    expect(result.exits).toHaveLength(2)
    expect(await isListening(a!)).toBe(false)
    expect(output()).toMatch(/^broken +\| cannot boot$/m)
  })

  it('names the service that does not answer its health URL in time', async () => {
    const [a, b] = await freePorts(2)
    const { supervisor } = supervise([fakeService('alpha', a!), fakeService('silent', b!, 'never-ready')], { readyTimeoutMs: 1_500 })

    await expect(supervisor.start()).rejects.toThrow(`silent did not answer http://127.0.0.1:${b}/health within 1.5s`)
    expect(await supervisor.done).toMatchObject({ reason: 'failed', culprit: 'silent' })
    expect(await isListening(a!)).toBe(false)
  })

  it('stops every service when one of them dies after start', async () => {
    const [a, b] = await freePorts(2)
    const { supervisor, output } = supervise([fakeService('alpha', a!), fakeService('beta', b!)])
    await supervisor.start()

    await fetch(`http://127.0.0.1:${b}/exit`).catch(() => undefined)
    const result = await supervisor.done

    expect(result).toMatchObject({ reason: 'crashed', culprit: 'beta', message: 'beta stopped unexpectedly (exit code 4)' })
    expect(result.exits.find((exit) => exit.name === 'alpha')?.code).toBe(0)
    expect(await isListening(a!)).toBe(false)
    expect(output()).toContain('beta stopped unexpectedly (exit code 4); stopping the other services')
  })

  it('kills a service that ignores SIGTERM once the stop bound has passed', async () => {
    const [a] = await freePorts(1)
    const { supervisor, output } = supervise([fakeService('stubborn', a!, 'ignore-sigterm')], { stopTimeoutMs: 500 })
    await supervisor.start()

    const result = await supervisor.stop()

    expect(result.exits).toEqual([{ name: 'stubborn', code: null, signal: 'SIGKILL' }])
    expect(await isListening(a!)).toBe(false)
    expect(output()).toContain('stubborn did not stop within 0.5s; killing it')
  })
})

describe('a supervisor that dies', () => {
  // The supervisor in a process of its own, killed with SIGKILL: no exit hook runs and no
  // signal reaches its children (each has a process group of its own). They must notice.
  it('takes its services with it: every port closes within 5 s of kill -9', async () => {
    const [a, b] = await freePorts(2)
    const owner = path.join(dir, 'owner.mts')
    await writeFile(owner, `
      import { createSupervisor } from ${JSON.stringify(path.join(import.meta.dirname, 'supervisor.ts'))}
      const service = (name, port) => ({ name, entry: ${JSON.stringify(script)}, healthUrl: 'http://127.0.0.1:' + port + '/health', env: { PORT: String(port), MODE: 'ok', NAME: name } })
      const supervisor = createSupervisor({ services: [service('alpha', ${a}), service('beta', ${b})], pretty: false, command: (s) => ({ file: process.execPath, args: [s.entry] }) })
      await supervisor.start()
      console.log('ALL UP')
      setInterval(() => {}, 1_000)
    `)
    const run = runScript(owner, [])
    await expect.poll(() => run.output(), { timeout: 20_000 }).toContain('ALL UP')
    expect(await isListening(a!)).toBe(true)

    run.kill('SIGKILL')
    await run.exited
    // Within 5 s, or the poll fails.
    await expect.poll(async () => (await isListening(a!)) || (await isListening(b!)), { timeout: 5_000, interval: 50 }).toBe(false)
  }, 30_000)
})
