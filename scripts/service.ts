import { pathToFileURL } from 'node:url'
import { loadConfig } from '../platform/config.ts'
import { isServiceName, SERVICE_NAMES } from '../platform/services.ts'
import { unreachableServers } from './lib/check-servers.ts'
import { migrateDatabase } from './lib/migrate.ts'
import { serviceEntry } from './lib/service-entries.ts'

// `npm run service -- <name>`: migrates, then runs one service in this process (its logs are
// pretty on a terminal, JSON otherwise). The service's own entry point handles signals.
const name = process.argv[2]
if (!name || !isServiceName(name) || process.argv.length > 3) {
  console.error(`Usage: npm run service -- <name>, where <name> is one of: ${SERVICE_NAMES.join(', ')}`)
  process.exit(2)
}
const config = loadConfig()
const url = config.DATABASE_URL
const problems = await unreachableServers(url, config.REDIS_URL)
if (problems.length) {
  for (const line of problems) console.error(line)
  process.exit(2)
}
await migrateDatabase(url)
await import(pathToFileURL(serviceEntry(name)).href)
