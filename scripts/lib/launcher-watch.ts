import { readFileSync } from 'node:fs'
import { isAlive } from './pid.ts'

// `npm start` is a chain: npm → sh → the tsx CLI → scripts/start.ts (the supervisor). kill -9
// of any link leaves the ones below it running, re-parented, with nobody to tell them: npm
// relays no signal when it is killed, and a shell waits for its child either way. So the
// supervisor watches the chain above it, up to npm, and stops everything when a link goes.

/** How far up the chain is looked for npm; past that only the direct parent is watched. */
const MAX_DEPTH = 4

function procStat(pid: number): { ppid: number } | undefined {
  try {
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so parse after the last ")".
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ')
    return { ppid: Number(fields[1]) }
  } catch {
    return undefined
  }
}

function commandLine(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean)
  } catch {
    return []
  }
}

// npm sets its process title to the command ("npm start"), so its cmdline is that one string.
const isNpm = (args: string[]) => /^npm( |$)/.test(args[0] ?? '') || args.some((arg) => /(^|[/\\])npm(-cli\.js)?$/.test(arg))
/** The links npm puts between itself and a script: a shell, and the tsx CLI. */
const isLink = (args: string[]) => /(^|\/)(sh|bash|dash|zsh)$/.test(args[0] ?? '') || args.some((arg) => /tsx[/\\]dist[/\\]cli\.mjs$|\.bin[/\\]tsx$/.test(arg))

/**
 * The processes whose death means "the user's command is gone": the parent, and above it
 * every ancestor up to and including npm when npm started us (Linux; elsewhere the parent).
 */
export function launcherChain(): number[] {
  const chain = [process.ppid]
  if (process.platform !== 'linux') return chain
  for (let pid = process.ppid, depth = 0; depth < MAX_DEPTH && pid > 1; depth++) {
    const args = commandLine(pid)
    if (isNpm(args)) return chain
    // Something else started us (a test, a process manager): that is the one to watch.
    if (!isLink(args)) break
    const parent = procStat(pid)?.ppid
    if (!parent || parent <= 1) break
    chain.push(parent)
    pid = parent
  }
  // No npm above us: the chain is whatever started us directly.
  return [process.ppid]
}

/**
 * Calls `onGone` once when a process of the launcher chain dies (checked every `everyMs`).
 * Returns a function that stops watching.
 */
export function watchLaunchers(onGone: (why: string) => void, everyMs = 500): () => void {
  const chain = launcherChain()
  const parent = process.ppid
  const timer = setInterval(() => {
    const gone = process.ppid !== parent ? parent : chain.find((pid) => !isAlive(pid))
    if (gone === undefined) return
    clearInterval(timer)
    onGone(`process ${gone}, which started this one (${chain.join(' → ')}), is gone`)
  }, everyMs)
  timer.unref()
  return () => clearInterval(timer)
}
