// Preloaded (NODE_OPTIONS=--import=<this file>) into every process the supervisor starts, so
// that no service outlives `npm start`, however it ends: kill -9 runs no exit hook and sends
// no signal to the children, so each child watches for itself and stops the way SIGTERM
// stops it (close-with-grace: drain, close, exit).
//
// Two watches, because either alone has a gap:
// - the IPC channel the supervisor opened: the kernel closes it the moment the supervisor
//   dies, and 'disconnect' fires at once;
// - the parent pid, checked every 500 ms: it changes when the parent dies and the process is
//   re-parented, which also covers a process started without a channel (tsx's own child,
//   whose parent is the tsx CLI).
// A process whose parent stops it on purpose (SIGTERM) never notices either watch.
// Plain JavaScript: it runs before tsx's loader exists.

const STOP_DEADLINE_MS = 20_000
const originalParent = process.ppid
let stopping = false

function parentGone(why) {
  if (stopping) return
  stopping = true
  try {
    process.stderr.write(`${JSON.stringify({ level: 40, time: new Date().toISOString(), pid: process.pid, msg: `${why}: stopping` })}\n`)
  } catch {
    // Nobody reads our output any more.
  }
  // Whatever handles SIGTERM drains and exits; without a handler, SIGTERM ends the process.
  process.kill(process.pid, 'SIGTERM')
  // A drain that hangs must not keep the port: out after the longest grace a service gives itself.
  setTimeout(() => process.exit(1), STOP_DEADLINE_MS).unref()
}

// Writes to the pipes of a dead supervisor fail with EPIPE; that must not become an uncaught
// exception before the drain is done.
process.stdout.on?.('error', () => {})
process.stderr.on?.('error', () => {})

if (process.channel) {
  process.on('disconnect', () => parentGone('the supervisor is gone (its channel closed)'))
  // The channel must not keep a process alive that would otherwise exit.
  process.channel.unref()
}
setInterval(() => {
  if (process.ppid !== originalParent) parentGone(`the parent process ${originalParent} is gone`)
}, 500).unref()
