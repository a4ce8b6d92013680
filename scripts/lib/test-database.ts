import type { Config } from '../../platform/config.ts'

/**
 * The database tests use: `TEST_DATABASE_URL`, else `DATABASE_URL` with "_test" added to the
 * database name, so tests never touch the data `npm start` serves.
 */
export function testDatabaseUrl(config: Pick<Config, 'DATABASE_URL' | 'TEST_DATABASE_URL'>): string {
  if (config.TEST_DATABASE_URL) return config.TEST_DATABASE_URL
  const url = new URL(config.DATABASE_URL)
  const name = decodeURIComponent(url.pathname.slice(1)) || 'saga_orchestrator'
  url.pathname = `/${name.endsWith('_test') ? name : `${name}_test`}`
  return url.toString()
}
