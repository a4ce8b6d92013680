import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { freePort } from './processes.ts'
import { isListening } from './free-ports.ts'

/**
 * A Redis server of the test's own (`redis-server` on a free loopback port), for outage tests:
 * stopping it never touches the Redis other suites share. With `durable`, its data is kept in
 * an append-only file (fsync on every write) in a temporary folder, so a restart after an
 * outage finds the streams and consumer groups where they were, as a real Redis would.
 */
export interface RedisServer {
  port: number
  url: string
  /** Stops it (SIGKILL: an outage, not a shutdown); its port then refuses connections. */
  stop(): Promise<void>
  /** Starts it again on the same port (and data folder). */
  start(): Promise<void>
  /** Stops it for good and removes its data. */
  close(): Promise<void>
}

const servers = new Set<ChildProcess>()
process.once('exit', () => {
  for (const child of servers) child.kill('SIGKILL')
})

export async function startRedisServer(options: { durable?: boolean } = {}): Promise<RedisServer> {
  const port = await freePort()
  const dir = mkdtempSync(path.join(os.tmpdir(), 'saga-redis-'))
  let child: ChildProcess | undefined
  const start = async () => {
    if (child) return
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--dir', dir, '--daemonize', 'no', '--loglevel', 'warning',
      ...(options.durable ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no'])]
    const started = spawn('redis-server', args, { stdio: 'ignore' })
    servers.add(started)
    started.once('exit', () => servers.delete(started))
    child = started
    const deadline = Date.now() + 10_000
    while (!(await isListening(port))) {
      if (Date.now() > deadline) throw new Error(`redis-server did not listen on ${port}`)
      await sleep(20)
    }
  }
  const stop = async () => {
    const running = child
    if (!running) return
    child = undefined
    const exited = new Promise((resolve) => running.once('exit', resolve))
    running.kill('SIGKILL')
    await exited
  }
  await start()
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    start,
    stop,
    async close() {
      await stop()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
