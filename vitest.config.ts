import { defineConfig } from 'vitest/config'
import { testDatabaseUrl } from './scripts/lib/test-database.ts'

export default defineConfig({
  test: {
    include: ['orchestrator/**/*.test.ts', 'participants/**/*.test.ts', 'platform/**/*.test.ts', 'scripts/**/*.test.ts', 'test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    env: { DATABASE_URL: testDatabaseUrl(), NODE_ENV: 'test' },
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Cross-process suites start real services on fixed ports: one file at a time there.
    fileParallelism: true,
    maxWorkers: 2,
    pool: 'forks',
  },
})
