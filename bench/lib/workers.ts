import { type ChildProcess, fork } from 'node:child_process'
import path from 'node:path'
import type { FromWorker, ToWorker, WorkerResult, WorkerTask } from './protocol.ts'

const ROOT = path.resolve(import.meta.dirname, '../..')
const LOAD_WORKER = path.join(ROOT, 'bench/workers/load-worker.ts')
const STUB = path.join(ROOT, 'bench/workers/stub-participant.ts')

const children = new Set<ChildProcess>()

// Whatever happens to the run, no process it forked outlives it.
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL')
})

function forkTs(file: string, execArgv: string[]): ChildProcess {
  // stdout → /dev/null: workers log like a production orchestrator (pino, info) and that
  // output has to go somewhere that costs what a log sink costs, not into our memory.
  const child = fork(file, [], { cwd: ROOT, execArgv: ['--import', 'tsx', ...execArgv], stdio: ['ignore', 'ignore', 'pipe', 'ipc'] })
  children.add(child)
  child.once('exit', () => children.delete(child))
  return child
}

export interface WorkerOptions {
  /** Write the worker's V8 CPU profiles (one per thread) into this directory. */
  cpuProfileDir?: string
  /** Lets memory samples force a GC first, so they show live heap, not garbage. */
  exposeGc?: boolean
  onProgress?: (completed: number) => void
}

export interface Worker {
  pid: number
  /** Warm-up done: read counters now, then `go()`. */
  ready: Promise<void>
  go(): void
  done: Promise<WorkerResult>
  /** Lets the worker exit (writing its CPU profile) and waits for it. */
  finish(): Promise<void>
}

/** Forks bench/workers/load-worker.ts for one task. */
export function startWorker(task: WorkerTask, options: WorkerOptions = {}): Worker {
  const execArgv = [
    ...(options.cpuProfileDir ? ['--cpu-prof', `--cpu-prof-dir=${options.cpuProfileDir}`] : []),
    ...(options.exposeGc ? ['--expose-gc'] : []),
  ]
  const child = forkTs(LOAD_WORKER, execArgv)
  let stderr = ''
  child.stderr!.on('data', (chunk: Buffer) => { stderr = (stderr + chunk.toString()).slice(-16_384) })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  let onReady!: () => void
  let onDone!: (result: WorkerResult) => void
  let onFail!: (error: Error) => void
  const ready = new Promise<void>((resolve, reject) => { onReady = resolve; onFail = reject })
  const done = new Promise<WorkerResult>((resolve, reject) => {
    onDone = resolve
    const fail = onFail
    onFail = (error) => { fail(error); reject(error) }
  })
  // Whoever awaits only one of them must not see an unhandled rejection from the other.
  ready.catch(() => {})
  done.catch(() => {})
  child.on('message', (message: FromWorker) => {
    if (message.type === 'ready') onReady()
    else if (message.type === 'progress') options.onProgress?.(message.completed)
    else if (message.type === 'done') onDone(message.result)
    else if (message.type === 'error') onFail(new Error(`worker (${task.kind}) failed: ${message.message}`))
  })
  child.once('exit', (code, signal) => onFail(new Error(`worker (${task.kind}) exited (${code ?? signal}) before finishing:\n${stderr}`)))
  const send = (message: ToWorker) => { if (child.connected) child.send(message) }
  send({ type: 'task', task })
  return {
    pid: child.pid!,
    ready,
    go: () => send({ type: 'go' }),
    done,
    async finish() {
      send({ type: 'exit' })
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000)
      await exited
      clearTimeout(timer)
    },
  }
}

export interface Stub {
  url: string
  pid: number
  stop(): Promise<void>
}

/** Starts the stub participant in its own process. */
export async function startStub(): Promise<Stub> {
  const child = forkTs(STUB, [])
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (message: { port: number }) => resolve(message.port))
    child.once('exit', (code) => reject(new Error(`stub participant exited (${code})`)))
  })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  return {
    url: `http://127.0.0.1:${port}`,
    pid: child.pid!,
    async stop() {
      if (child.connected) child.send({ type: 'stop' })
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000)
      await exited
      clearTimeout(timer)
    },
  }
}
