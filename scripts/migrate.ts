import { parseArgs } from 'node:util'
import { loadConfig } from '../platform/config.ts'
import { createMigration, migrateDatabase } from './lib/migrate.ts'
import { withPostgresRetry } from './lib/postgres-retry.ts'

// `npm run db:migrate` applies pending migrations (creating the database if missing).
// `npm run db:diff -- <name> [--from <git ref>]` writes a new migration from the schema
// changes since the ref (default HEAD).
const { values, positionals } = parseArgs({ options: { create: { type: 'boolean' }, from: { type: 'string', default: 'HEAD' } }, allowPositionals: true })
const url = loadConfig().DATABASE_URL
if (values.create) {
  const dir = await createMigration(url, positionals[0] ?? 'change', values.from)
  console.log(dir ? `Wrote ${dir}` : 'The schema matches the migrations: nothing to write.')
} else {
  // A database still starting (docker compose, a machine booting) gets a minute to answer.
  const applied = await withPostgresRetry(url, () => migrateDatabase(url), { timeoutMs: 60_000 })
  console.log(applied.length ? `Applied ${applied.join(', ')}` : 'Database is up to date.')
}
