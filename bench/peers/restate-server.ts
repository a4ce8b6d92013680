import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { closeSync, mkdirSync, openSync, readFileSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import os from 'node:os'
import { freePorts } from '../../test/support/free-ports.ts'
import { requestJson } from '../lib/http-json.ts'

// The Restate server for the Restate peer: the native binary that @restatedev/restate-server
// ships in its platform package (an optional dependency npm installs for this platform only;
// no install script, nothing downloaded), started as its own process with its defaults — one
// node with every role, its log and partition store in RocksDB with fsync on — except for
// loopback ports picked free, a data directory of this run's, and no usage telemetry.

const require = createRequire(import.meta.url)
const PLATFORM_PACKAGE = `@restatedev/restate-server-${os.platform()}-${os.arch()}`

export type RestateAvailability =
  | { available: true; binary: string; version: string }
  | { available: false; reason: string }

/** Whether the Restate server can run here from what npm installed: what was tried and, if not, the error. */
export function findRestateServer(): RestateAvailability {
  let binary: string
  try {
    require.resolve('@restatedev/restate-server/package.json')
  } catch (error) {
    return { available: false, reason: `@restatedev/restate-server is not installed (npm install): ${(error as Error).message.split('\n')[0]}` }
  }
  try {
    binary = require.resolve(`${PLATFORM_PACKAGE}/bin/restate-server`)
  } catch (error) {
    return { available: false, reason: `its native binary for ${os.platform()}-${os.arch()} (${PLATFORM_PACKAGE}) is not installed: ${(error as Error).message.split('\n')[0]}` }
  }
  try {
    const version = execFileSync(binary, ['--version'], { encoding: 'utf8', timeout: 30_000, stdio: ['ignore', 'pipe', 'pipe'] }).trim()
    return { available: true, binary, version }
  } catch (error) {
    const failed = error as { message: string; stderr?: string }
    return { available: false, reason: `\`${binary} --version\` failed: ${failed.stderr?.trim() || failed.message}` }
  }
}

/** The settings that make Restate durable, as the server reports its configuration (`--dump-config`). */
const DURABILITY_SETTINGS = ['bifrost.default-provider', 'default-replication', 'log-server.rocksdb-disable-wal-fsync', 'default-num-partitions']

/** Picks `section.key` values out of the TOML the server dumps (flat keys and [section] headers only). */
function pickSettings(toml: string, wanted: string[]): Record<string, string> {
  const found: Record<string, string> = {}
  let section = ''
  for (const line of toml.split('\n').map((l) => l.trim())) {
    const header = /^\[([^\]]+)\]$/.exec(line)
    if (header) {
      section = header[1]!
      continue
    }
    const pair = /^([\w-]+) = (.+)$/.exec(line)
    const key = pair && (section ? `${section}.${pair[1]}` : pair[1]!)
    if (key && wanted.includes(key)) found[key] = pair[2]!.replace(/^"|"$/g, '')
  }
  return found
}

export interface RestateServer {
  version: string
  /** DURABILITY_SETTINGS as the running server has them. */
  durability: Record<string, string>
  pid: number
  ingressUrl: string
  adminUrl: string
  /** Sends SIGTERM (SIGKILL after 10 s) and removes the data directory. */
  stop(): Promise<void>
}

const running = new Set<{ child: ChildProcess; dataDir: string }>()

/** Whether `pid` has died (gone, or a zombie awaiting its parent), from /proc/<pid>/stat. */
function hasDied(pid: number): boolean {
  try {
    return /^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))
  } catch {
    return true
  }
}

// Whatever happens to the run, the server does not outlive it, nor does its data. An exit
// hook cannot await: it waits (at most 3 s) for the killed server to stop writing, so that
// no file it was still creating survives the removal.
process.once('exit', () => {
  for (const { child, dataDir } of running) {
    child.kill('SIGKILL')
    const deadline = Date.now() + 3_000
    while (child.pid !== undefined && !hasDied(child.pid) && Date.now() < deadline) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20)
    rmSync(dataDir, { recursive: true, force: true })
  }
})

/**
 * Starts the server in `dataDir` (created; removed by stop), its output into `logFile`, and
 * resolves once its admin API and ingress answer their health checks.
 */
export async function startRestateServer(found: Extract<RestateAvailability, { available: true }>, dataDir: string, logFile: string, readyTimeoutMs = 60_000): Promise<RestateServer> {
  const [ingress, admin, fabric] = await freePorts(3) as [number, number, number]
  mkdirSync(dataDir, { recursive: true })
  const env = {
    ...process.env,
    RESTATE_INGRESS__BIND_ADDRESS: `127.0.0.1:${ingress}`,
    RESTATE_ADMIN__BIND_ADDRESS: `127.0.0.1:${admin}`,
    RESTATE_BIND_ADDRESS: `127.0.0.1:${fabric}`,
    RESTATE_DISABLE_TELEMETRY: 'true',
    RESTATE_LOG_FORMAT: 'json',
  }
  const args = ['--no-logo', '--base-dir', dataDir, '--listen-mode', 'tcp']
  const durability = pickSettings(execFileSync(found.binary, [...args, '--dump-config'], { env, encoding: 'utf8', timeout: 30_000 }), DURABILITY_SETTINGS)
  const log = openSync(logFile, 'a')
  const child = spawn(found.binary, args, { env, stdio: ['ignore', log, log] })
  closeSync(log)
  const entry = { child, dataDir }
  running.add(entry)
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  let gone = false
  void exited.then(() => { gone = true })

  const stop = async () => {
    if (!gone) {
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
      await exited
      clearTimeout(timer)
    }
    running.delete(entry)
    rmSync(dataDir, { recursive: true, force: true })
  }
  const ingressUrl = `http://127.0.0.1:${ingress}`
  const adminUrl = `http://127.0.0.1:${admin}`
  const deadline = Date.now() + readyTimeoutMs
  for (;;) {
    if (gone) {
      await stop()
      throw new Error(`restate-server exited before it was ready (exit code ${child.exitCode ?? child.signalCode}); see ${logFile}`)
    }
    const healthy = await Promise.all([`${adminUrl}/health`, `${ingressUrl}/restate/health`].map((url) =>
      requestJson('GET', url).then((answer) => answer.status === 200, () => false)))
    if (healthy.every(Boolean)) break
    if (Date.now() > deadline) {
      await stop()
      throw new Error(`restate-server did not become healthy within ${readyTimeoutMs / 1000} s; see ${logFile}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
  return { version: found.version, durability, pid: child.pid!, ingressUrl, adminUrl, stop }
}
