import { type ChildProcess, spawn } from 'node:child_process'
import path from 'node:path'

const TETHER = path.join(import.meta.dirname, 'tether.mjs')

export interface TetheredSpec {
  command: string
  args: string[]
  cwd?: string
  env?: NodeJS.ProcessEnv
  /** Run the server as this user (root starting postgres). */
  uid?: number
  gid?: number
  /** Where the server's output goes (appended). Default: this process's stdout/stderr. */
  logFile?: string
  /** What stops the server cleanly. Default: SIGINT (postgres: fast shutdown). */
  stopSignal?: NodeJS.Signals
  /** After that long the server is killed. Default: 10000 ms */
  stopTimeoutMs?: number
}

export interface Tethered {
  child: ChildProcess
  /** The server's exit code once it and its tether are gone. */
  exited: Promise<number | null>
  /** Stops the server cleanly (idempotent) and resolves once it has exited. */
  stop(): Promise<number | null>
}

/**
 * Runs a server program through scripts/lib/tether.mjs: it stops when `stop()` is called and
 * also when this process dies without calling it, kill -9 included (see tether.mjs).
 * The tether has its own process group, so a Ctrl-C on the terminal reaches only us and the
 * server stops when we say, after the services that use it.
 */
export function spawnTethered(spec: TetheredSpec): Tethered {
  // The environment travels as the tether's own (inherited by the server), never on its
  // command line, where `ps` would show it.
  const { env, ...rest } = spec
  const child = spawn(process.execPath, [TETHER, JSON.stringify(rest)], {
    env: env ?? process.env,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    detached: process.platform !== 'win32',
  })
  // Our end of the channel must not keep this process alive either.
  child.channel?.unref()
  child.unref()
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => resolve(code))
    child.once('error', () => resolve(null))
  })
  let stopping: Promise<number | null> | undefined
  return {
    child,
    exited,
    stop() {
      if (!stopping) {
        // Waiting for the exit must keep this process alive.
        child.ref()
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
        stopping = exited
      }
      return stopping
    },
  }
}
