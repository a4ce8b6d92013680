import { defineConfig } from 'vitest/config'
import { loadConfig } from './platform/config.ts'
import { testDatabaseUrl } from './scripts/lib/test-database.ts'

const shared = {
  globalSetup: ['test/global-setup.ts'],
  // Quiet unless asked: services built in a test log nothing by default.
  env: { DATABASE_URL: testDatabaseUrl(loadConfig()), NODE_ENV: 'test', LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent' },
  testTimeout: 30_000,
  hookTimeout: 60_000,
  pool: 'forks' as const,
}

export default defineConfig({
  test: {
    projects: [
      {
        // Unit and service tests: in-process, each file with its own rows, run in parallel.
        test: {
          ...shared,
          name: 'unit',
          include: ['orchestrator/**/*.test.ts', 'participants/**/*.test.ts', 'platform/**/*.test.ts', 'scripts/**/*.test.ts', 'test/*.test.ts'],
          maxWorkers: 2,
        },
      },
      {
        // Cross-process suites: real service processes, fixed behaviour under kill -9 and
        // lease takeovers. One file at a time, after the unit project, so their recovery
        // loops never meet another file's sagas.
        test: {
          ...shared,
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          fileParallelism: false,
          testTimeout: 180_000,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
})
