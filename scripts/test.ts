import { spawn } from 'node:child_process'
import path from 'node:path'
import { loadConfig } from '../platform/config.ts'
import { unreachableServers } from './lib/check-servers.ts'
import { testDatabaseUrl } from './lib/test-database.ts'

// `npm test [-- vitest args]`: checks the servers, then runs vitest against the test database.
// (Migrating it happens in vitest's global setup, so `npx vitest` alone behaves the same.)
const config = loadConfig()
const url = testDatabaseUrl(config)
const problems = await unreachableServers(url, config.REDIS_URL)
if (problems.length) {
  for (const line of problems) console.error(line)
  process.exit(2)
}
const root = path.resolve(import.meta.dirname, '..')
const vitest = path.join(root, 'node_modules/vitest/vitest.mjs')
const child = spawn(process.execPath, [vitest, 'run', ...process.argv.slice(2)], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, DATABASE_URL: url },
})
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => child.kill(signal))
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)))
