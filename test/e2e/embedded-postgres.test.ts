import { chmod, lstat, mkdir, mkdtemp, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { isListening } from '../support/free-ports.ts'
import { runScript } from '../support/processes.ts'
import { type EmbeddedPostgres, restoreLibrarySymlinks, startEmbeddedPostgres } from '../../scripts/lib/embedded-postgres.ts'

let dir: string
let server: EmbeddedPostgres

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'embedded-postgres-test-'))
  // mkdtemp makes it 0700: open it, as a project folder is, so that `nobody` may enter it.
  await chmod(dir, 0o755)
  server = await startEmbeddedPostgres({ dataDir: path.join(dir, 'postgres'), port: 0, fast: true })
}, 60_000)

afterAll(async () => {
  await server?.stop()
  await rm(dir, { recursive: true, force: true })
})

async function query<T extends pg.QueryResultRow>(sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: server.url('postgres') })
  await client.connect()
  try {
    return (await client.query<T>(sql)).rows
  } finally {
    await client.end()
  }
}

describe('the embedded PostgreSQL', () => {
  it('is PostgreSQL 15, on loopback only, with no unix socket', async () => {
    const [row] = await query<{ version: string; listen: string; sockets: string }>(
      "SELECT version(), current_setting('listen_addresses') AS listen, current_setting('unix_socket_directories') AS sockets")
    expect(row!.version).toMatch(/^PostgreSQL 15\./)
    expect(row!.listen).toBe('127.0.0.1')
    expect(row!.sockets).toBe('')
    expect(server.url('x')).toBe(`postgresql://postgres@127.0.0.1:${server.port}/x`)
  })

  it.runIf(process.getuid?.() === 0)('runs as nobody when started by root, in a data folder nobody owns', async () => {
    const info = await stat(server.dataDir)
    expect(info.uid).toBe(65_534)
    expect(info.mode & 0o777).toBe(0o700)
    const pid = (await readFile(path.join(server.dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0]
    const status = await readFile(`/proc/${pid}/status`, 'utf8')
    expect(status).toMatch(/^Uid:\s+65534\s/m)
  })

  it('starts again on the same port and keeps its data', async () => {
    await query('CREATE TABLE IF NOT EXISTS kept (n int); INSERT INTO kept VALUES (1)')
    await server.stop()
    expect(await isListening(server.port)).toBe(false)
    await server.start()
    expect(await query('SELECT n FROM kept')).toEqual([{ n: 1 }])
  }, 30_000)

  it('refuses a data folder another running server owns, naming its process', async () => {
    await expect(startEmbeddedPostgres({ dataDir: server.dataDir, port: 0 })).rejects.toThrow(/already in use by process \d+/)
  })

  it('stops when the process that started it is killed with SIGKILL', async () => {
    const script = path.join(dir, 'owner.mts')
    await writeFile(script, `
      import { startEmbeddedPostgres } from ${JSON.stringify(path.resolve(import.meta.dirname, '../../scripts/lib/embedded-postgres.ts'))}
      const server = await startEmbeddedPostgres({ dataDir: ${JSON.stringify(path.join(dir, 'orphan'))}, port: 0, fast: true })
      console.log('PORT=' + server.port)
      setInterval(() => {}, 1_000)
    `)
    const owner = runScript(script, [])
    const deadline = Date.now() + 30_000
    while (!/PORT=\d+/.test(owner.output()) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50))
    const port = Number(/PORT=(\d+)/.exec(owner.output())?.[1])
    expect(port, owner.output()).toBeGreaterThan(0)
    expect(await isListening(port)).toBe(true)
    // The tsx process and the Node process it runs: SIGKILL to the whole group, no hook runs.
    owner.kill('SIGKILL')
    await owner.exited
    const stoppedBy = Date.now() + 5_000
    while ((await isListening(port)) && Date.now() < stoppedBy) await new Promise((resolve) => setTimeout(resolve, 50))
    expect(await isListening(port)).toBe(false)
  }, 60_000)
})

describe('restoring the library symlinks the package lists', () => {
  it('creates the missing links relative to their folder and leaves existing ones alone', async () => {
    const root = path.join(dir, 'fake-package')
    await mkdir(path.join(root, 'native/lib'), { recursive: true })
    await writeFile(path.join(root, 'native/lib/libfoo.so.1.2'), '')
    await writeFile(path.join(root, 'native/lib/libbar.so'), 'a real file')
    await writeFile(path.join(root, 'native/pg-symlinks.json'), JSON.stringify([
      { source: 'native/lib/libfoo.so.1.2', target: 'native/lib/libfoo.so.1' },
      { source: 'native/lib/libfoo.so.1.2', target: 'native/lib/libfoo.so' },
      { source: 'native/lib/libfoo.so.1.2', target: 'native/lib/libbar.so' },
    ]))
    expect(await restoreLibrarySymlinks(path.join(root, 'native'))).toBe(2)
    expect(await readlink(path.join(root, 'native/lib/libfoo.so.1'))).toBe('libfoo.so.1.2')
    expect((await lstat(path.join(root, 'native/lib/libbar.so'))).isSymbolicLink()).toBe(false)
    expect(await restoreLibrarySymlinks(path.join(root, 'native'))).toBe(0)
  })
})
