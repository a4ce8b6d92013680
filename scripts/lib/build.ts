import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { closeSync, cpSync, existsSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { isAlive } from './pid.ts'

// The compiled build that production runs: tsc turns the services' TypeScript (the
// orchestrator, the participants, the platform and the generated Prisma client) into
// JavaScript under dist/, with the same folder layout, so that a service starts as plain
// `node dist/<entry>.js` (no tsx, no source maps, no transform at load). dist/build.json
// records a digest of what it was built from; a build whose sources have changed since is
// stale, and nothing runs it. Services started at once (`npm run service` for each) that all
// find it stale build it once: one builds under a lock file, the others wait and use it.

const ROOT = path.resolve(import.meta.dirname, '../..')
export const DIST = path.join(ROOT, 'dist')
/** Where a build records what it was built from, in the project at `root`. */
const stampIn = (root: string) => path.join(root, 'dist', 'build.json')
const STAMP = stampIn(ROOT)
const LOCK = path.join(ROOT, '.dist.lock')
/** The longest wait for another process's build. */
const LOCK_WAIT_MS = 120_000
const TSCONFIG = path.join(ROOT, 'tsconfig.build.json')
/** What the build compiles (tsconfig.build.json's `include`), plus the files that shape how. */
const SOURCE_DIRS = ['orchestrator', 'participants', 'platform', 'generated']
const BUILD_INPUTS = ['tsconfig.json', 'tsconfig.build.json', 'package-lock.json']
/** Files the compiled code reads at run time, copied beside it. */
const ASSET_DIRS = ['orchestrator/src/http/ui']

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return []
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.join(entry.parentPath, entry.name))
}

/** A digest of every file a build depends on, so a stale dist/ is recognised by content, not by clock. */
export function sourceDigest(root = ROOT): string {
  const hash = createHash('sha256')
  const files = [...SOURCE_DIRS.flatMap((dir) => filesUnder(path.join(root, dir))), ...BUILD_INPUTS.map((file) => path.join(root, file))]
  for (const file of files.filter((file) => existsSync(file)).sort()) {
    hash.update(path.relative(root, file)).update('\0').update(readFileSync(file)).update('\0')
  }
  return hash.digest('hex')
}

/** True when dist/ holds a build of exactly the sources there are now. */
export function buildIsCurrent(root = ROOT): boolean {
  const stamp = stampIn(root)
  if (!existsSync(stamp)) return false
  try {
    return (JSON.parse(readFileSync(stamp, 'utf8')) as { sources?: string }).sources === sourceDigest(root)
  } catch {
    return false
  }
}

/** The TypeScript compiler's CLI, or undefined where dev dependencies are not installed. */
function compilerCli(): string | undefined {
  try {
    const cli = path.join(path.dirname(createRequire(import.meta.url).resolve('typescript/package.json')), 'bin/tsc')
    return existsSync(cli) ? cli : undefined
  } catch {
    return undefined
  }
}

/** Compiles into a fresh dist/ (type errors fail it) and stamps it with the sources' digest. */
export function build(): void {
  const tsc = compilerCli()
  if (!tsc) throw new Error('The TypeScript compiler is not installed (dev dependencies are missing): run `npm ci`, then `npm run build`')
  const sources = sourceDigest()
  rmSync(DIST, { recursive: true, force: true })
  execFileSync(process.execPath, [tsc, '-p', TSCONFIG], { cwd: ROOT, stdio: 'inherit' })
  for (const dir of ASSET_DIRS) cpSync(path.join(ROOT, dir), path.join(DIST, dir), { recursive: true })
  writeFileSync(STAMP, `${JSON.stringify({ sources, builtAt: new Date().toISOString() }, null, 2)}\n`)
}

/** Builds unless dist/ is current (checked again once no other process is building); says when it builds. */
export function ensureBuild(log: (line: string) => void = () => {}): void {
  if (buildIsCurrent()) return
  withBuildLock(() => {
    if (buildIsCurrent()) return
    log(existsSync(STAMP) ? 'The compiled build is older than the sources: rebuilding (npm run build)…' : 'Compiling the services (npm run build)…')
    build()
  })
}

/** Runs `fn` holding .dist.lock (created exclusively; a lock whose process is gone is taken over). */
function withBuildLock(fn: () => void): void {
  const until = Date.now() + LOCK_WAIT_MS
  let fd: number | undefined
  while (fd === undefined) {
    try {
      fd = openSync(LOCK, 'wx')
      writeFileSync(fd, String(process.pid))
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
      const holder = readFileIfAny(LOCK)
      // An empty lock is one being written, unless it has been empty for seconds (its writer died).
      if (holder ? !isAlive(Number(holder)) : ageMs(LOCK) > 5_000) rmSync(LOCK, { force: true })
      else if (Date.now() > until) throw new Error(`Another process (pid ${readFileIfAny(LOCK)}) has been building dist/ for over ${LOCK_WAIT_MS / 1000} s (lock file ${LOCK})`)
      else Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100)
    }
  }
  try {
    fn()
  } finally {
    closeSync(fd)
    rmSync(LOCK, { force: true })
  }
}

function ageMs(file: string): number {
  try {
    return Date.now() - statSync(file).mtimeMs
  } catch {
    return 0
  }
}

function readFileIfAny(file: string): string {
  try {
    return readFileSync(file, 'utf8')
  } catch {
    return ''
  }
}
