import { loadConfig } from '../platform/config.ts'
import { unreachableServers } from '../scripts/lib/check-servers.ts'
import { migrateDatabase } from '../scripts/lib/migrate.ts'
import { testDatabaseUrl } from '../scripts/lib/test-database.ts'

// Runs once before all test files: stop at once when a server is down, then bring the test
// database (never the one `npm start` uses) up to the latest migration.
// Each vitest project runs its global setup; the work happens once per process.
const once = globalThis as { __sagaTestSetup?: Promise<void> }

export default function setup(): Promise<void> {
  once.__sagaTestSetup ??= (async () => {
    const config = loadConfig()
    const url = testDatabaseUrl(config)
    process.env.DATABASE_URL = url
    const problems = await unreachableServers(url, config.REDIS_URL)
    if (problems.length) {
      for (const line of problems) console.error(line)
      // `npx vitest` alone uses the servers it is given; `npm test` starts embedded ones.
      console.error('(`npm test` starts embedded servers of its own when DATABASE_URL / REDIS_URL are unset and none runs on the standard ports.)')
      process.exit(2)
    }
    await migrateDatabase(url)
  })()
  return once.__sagaTestSetup
}
