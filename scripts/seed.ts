import { loadConfig } from '../platform/config.ts'
import { createDatabase } from '../platform/database.ts'
import { unreachableServers } from './lib/check-servers.ts'
import { migrateDatabase } from './lib/migrate.ts'
import { describeSeed, seedDemoData } from './lib/seed.ts'

// `npm run db:seed`: brings the database up to date, then writes the demo tours and hotel
// that are not there yet (see scripts/lib/seed.ts). `npm start` does the same at every start.
const config = loadConfig()
const url = config.DATABASE_URL
const problems = (await unreachableServers(url, config.REDIS_URL)).filter((line) => line.startsWith('PostgreSQL'))
if (problems.length) {
  for (const line of problems) console.error(line)
  process.exit(2)
}
await migrateDatabase(url)
const db = createDatabase({ url, poolSize: 1 })
try {
  for (const line of describeSeed(await seedDemoData(db))) console.log(line)
} finally {
  await db.$disconnect()
}
