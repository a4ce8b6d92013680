import type { FromWorker, ToWorker, WorkerResult, WorkerTask } from '../lib/protocol.ts'
import { type Finished, runLoad, runRecovery } from './engine-load.ts'
import { runSearch } from './search-load.ts'

// A measuring process, forked by the coordinator (bench/lib/workers.ts) with `--import tsx`
// and, when profiling, `--cpu-prof`. It does one task, then exits normally so that V8 writes
// the profile. See lib/protocol.ts for the conversation.

const send = (message: FromWorker) => process.send!(message)

let go: (() => void) | undefined
const started = new Promise<void>((resolve) => { go = resolve })
let exit: (() => void) | undefined
const released = new Promise<void>((resolve) => { exit = resolve })

const gate = async () => {
  send({ type: 'ready' })
  await started
}
const progress = (completed: number) => send({ type: 'progress', completed })

async function perform(task: WorkerTask): Promise<Finished<WorkerResult>> {
  switch (task.kind) {
    case 'engine':
    case 'raw':
    case 'dbos':
    case 'restate':
      return runLoad(task, gate, progress)
    case 'recovery':
      return runRecovery(task, gate, progress)
    case 'search':
      return runSearch(task, gate)
  }
}

process.on('message', (message: ToWorker) => {
  if (message.type === 'go') go?.()
  else if (message.type === 'exit') exit?.()
  else if (message.type === 'task') {
    perform(message.task).then(
      async ({ result, close }) => {
        send({ type: 'done', result })
        // Connections stay open until the coordinator has read Postgres' counters.
        await released
        await close()
        process.disconnect()
        // Let handles close by themselves (so --cpu-prof is written), with a backstop.
        setTimeout(() => process.exit(0), 5_000).unref()
      },
      (error: unknown) => {
        send({ type: 'error', message: error instanceof Error ? `${error.message}\n${error.stack}` : String(error) })
        setTimeout(() => process.exit(1), 200)
      },
    )
  }
})
// The coordinator went away: nothing left to measure for.
process.on('disconnect', () => setTimeout(() => process.exit(0), 5_000).unref())
