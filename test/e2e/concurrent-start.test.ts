import { randomUUID } from 'node:crypto'
import { afterAll, describe, expect, it } from 'vitest'
import pg from 'pg'
import { SERVICES, type ServiceName } from '../../platform/services.ts'
import { ensureDatabase } from '../../scripts/lib/ensure-database.ts'
import { MIGRATION_LOCK_KEY, migrateDatabase } from '../../scripts/lib/migrate.ts'
import { freePorts } from '../support/free-ports.ts'
import { runScript, stopAll } from '../support/processes.ts'

// "Any number of services may start at once against a database that does not exist yet":
// CREATE DATABASE races (42P04 or 23505, depending on timing) and migrations must run one
// after the other. Each test uses a fresh database name on the test server, dropped after.

const base = process.env.DATABASE_URL!
const created: string[] = []
function freshDatabaseUrl(label: string): string {
  const url = new URL(base)
  const name = `${decodeURIComponent(url.pathname.slice(1))}_${label}_${randomUUID().slice(0, 8)}`
  url.pathname = `/${name}`
  created.push(name)
  return url.toString()
}

async function admin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const url = new URL(base)
  url.pathname = '/postgres'
  const client = new pg.Client({ connectionString: url.toString() })
  await client.connect()
  try {
    return await work(client)
  } finally {
    await client.end()
  }
}

afterAll(async () => {
  await stopAll()
  await admin(async (client) => {
    for (const name of created) await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)
  })
})

describe('creating the database', () => {
  it('creates it exactly once when eight callers race for it', async () => {
    const url = freshDatabaseUrl('race')
    const results = await Promise.all(Array.from({ length: 8 }, () => ensureDatabase(url)))
    expect(results.filter(Boolean)).toHaveLength(1)
    expect(await ensureDatabase(url)).toBe(false)
  })
})

describe('migrating', () => {
  it('applies every migration once when four processes migrate a database that does not exist yet', async () => {
    const url = freshDatabaseUrl('migrate')
    const runs = Array.from({ length: 4 }, () => runScript('scripts/migrate.ts', [], { DATABASE_URL: url }))
    const exits = await Promise.all(runs.map((run) => run.exited))
    const outputs = runs.map((run) => run.output())
    expect(exits, outputs.join('\n---\n')).toEqual(runs.map(() => ({ code: 0, signal: null })))
    // One process applied them all; the others waited on the lock and found nothing to do.
    expect(outputs.filter((text) => text.includes('Applied '))).toHaveLength(1)
    expect(outputs.filter((text) => text.includes('Database is up to date.'))).toHaveLength(3)
    const client = new pg.Client({ connectionString: url })
    await client.connect()
    try {
      const { rows } = await client.query<{ migration_name: string; count: string }>(
        'SELECT migration_name, count(*) FROM _prisma_migrations WHERE finished_at IS NOT NULL GROUP BY migration_name')
      expect(rows.length).toBeGreaterThan(0)
      expect(rows.every((row) => row.count === '1')).toBe(true)
    } finally {
      await client.end()
    }
  }, 120_000)

  it('brings up every service started at once with `npm run service` against a database that does not exist yet', async () => {
    const url = freshDatabaseUrl('services')
    const names: ServiceName[] = ['orchestrator', 'tour-catalog', 'booking', 'payment']
    const ports = await freePorts(names.length)
    const services = names.map((name, index) => runScript('scripts/service.ts', [name], {
      DATABASE_URL: url, [SERVICES[name].portEnv]: String(ports[index]), HOST: '127.0.0.1', LOG_FORMAT: 'json', LOG_LEVEL: 'warn',
    }))
    const migrating = runScript('scripts/migrate.ts', [], { DATABASE_URL: url })
    expect(await migrating.exited, migrating.output()).toEqual({ code: 0, signal: null })
    const ready = async (port: number) => fetch(`http://127.0.0.1:${port}/ready`).then((response) => response.status, () => 0)
    await expect.poll(async () => Promise.all(ports.map(ready)), { timeout: 90_000, interval: 500 }).toEqual(ports.map(() => 200))
    for (const service of services) expect(service.child.exitCode, service.output()).toBeNull()
    for (const service of services) service.kill('SIGTERM')
    await Promise.all(services.map((service) => service.exited))
  }, 150_000)

  it('waits while another runner holds the migration lock', async () => {
    const url = freshDatabaseUrl('lock')
    await ensureDatabase(url)
    const holder = new pg.Client({ connectionString: url })
    await holder.connect()
    try {
      await holder.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY])
      let finished = false
      const migrating = migrateDatabase(url).then((applied) => { finished = true; return applied })
      await new Promise((resolve) => setTimeout(resolve, 1_000))
      expect(finished).toBe(false)
      await holder.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY])
      expect((await migrating).length).toBeGreaterThan(0)
    } finally {
      await holder.end()
    }
  }, 60_000)
})
