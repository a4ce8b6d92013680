// Runs one server program (the embedded PostgreSQL) on a leash held by the Node process that
// started it: when that owner goes away for any reason, kill -9 included, the server is
// stopped cleanly. A server such as postgres cannot watch its parent, and a process killed
// with SIGKILL runs no exit hook, so the watching happens here, through the IPC channel the
// owner opened: the kernel closes it when the owner dies, and 'disconnect' fires.
//
// Plain JavaScript, so it starts in ~40 ms without tsx. Spawned by scripts/lib/tethered.ts:
//   node tether.mjs '<json spec>'   with stdio [ignore, pipe, pipe, ipc]
// spec: { command, args, cwd?, uid?, gid?, logFile?, stopSignal?, stopTimeoutMs? }; the server
// inherits this process's environment.
// The server's output goes to `logFile` (appended), else to this process's stdout/stderr.
// Exit code: the server's; 1 when it had to be killed.
import { spawn } from 'node:child_process'
import { openSync } from 'node:fs'

// Once the owner is gone, so are the pipes it read: a failed write must not end this
// process before it has stopped the server.
process.stdout.on('error', () => {})
process.stderr.on('error', () => {})

const spec = JSON.parse(process.argv[2] ?? '{}')
const stopSignal = spec.stopSignal ?? 'SIGINT'
const stopTimeoutMs = spec.stopTimeoutMs ?? 10_000

const child = spawn(spec.command, spec.args ?? [], {
  cwd: spec.cwd,
  stdio: spec.logFile ? ['ignore', openSync(spec.logFile, 'a'), openSync(spec.logFile, 'a')] : ['ignore', 'inherit', 'inherit'],
  ...(spec.uid !== undefined ? { uid: spec.uid, gid: spec.gid } : {}),
})

let stopping = false
function stop(reason) {
  if (stopping) return
  stopping = true
  if (reason) process.stderr.write(`tether: ${reason}; stopping ${spec.command} (${stopSignal})\n`)
  child.kill(stopSignal)
  setTimeout(() => {
    child.kill('SIGKILL')
    process.exit(1)
  }, stopTimeoutMs).unref()
}

child.once('error', (error) => {
  process.stderr.write(`tether: could not start ${spec.command}: ${error.message}\n`)
  process.exit(127)
})
child.once('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)))

// The owner asks for a stop with SIGTERM (or a message); its death closes the channel.
process.on('SIGTERM', () => stop())
process.on('SIGINT', () => stop())
process.on('message', (message) => {
  if (message === 'stop') stop()
})
process.on('disconnect', () => stop('owner went away'))
// The channel must not keep this process alive once the server has exited.
process.channel?.unref()
