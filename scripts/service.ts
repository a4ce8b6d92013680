import { pathToFileURL } from 'node:url'
import { isProduction, loadConfig } from '../platform/config.ts'
import { REDIS_DISABLED } from '../platform/redis.ts'
import { isServiceName, SERVICE_NAMES } from '../platform/services.ts'
import { reachable, safeUrl } from './lib/check-servers.ts'
import { migrateDatabase } from './lib/migrate.ts'
import { withPostgresRetry } from './lib/postgres-retry.ts'
import { ensureBuild } from './lib/build.ts'
import { compiledEntry, serviceEntry } from './lib/service-entries.ts'

// `npm run service -- <name>`: migrates, then runs one service in this process (its logs are
// pretty on a terminal, JSON otherwise). The service's own entry point handles signals.
// Neither server being down stops it: it waits for Postgres (with backoff, saying so), since
// it cannot migrate without it, and starts without Redis, a mirror and cache it connects to
// when it is up (/ready says what is missing meanwhile). With NODE_ENV=production it runs the
// compiled build (dist/, built first when missing or older than the sources; lib/build.ts).
const name = process.argv[2]
if (!name || !isServiceName(name) || process.argv.length > 3) {
  console.error(`Usage: npm run service -- <name>, where <name> is one of: ${SERVICE_NAMES.join(', ')}`)
  process.exit(2)
}
const config = loadConfig()
const url = config.DATABASE_URL
if (config.REDIS_URL !== REDIS_DISABLED && !(await reachable(config.REDIS_URL, 6379))) {
  console.error(`Redis is not reachable at ${safeUrl(config.REDIS_URL)}: starting without it; the service connects when it is up`)
}
await withPostgresRetry(url, () => migrateDatabase(url))
if (isProduction(config)) ensureBuild((line) => console.error(line))
await import(pathToFileURL(isProduction(config) ? compiledEntry(name) : serviceEntry(name)).href)
