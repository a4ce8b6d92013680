import { spawn } from 'node:child_process'
import path from 'node:path'
import { chooseServers } from './lib/dev-servers.ts'

// `npm test [-- vitest args]`: picks the servers (the ones the environment names, else those
// on this machine's standard ports, else embedded ones of its own; see lib/dev-servers.ts),
// then runs vitest against the test database. Migrating it happens in vitest's global setup,
// so `npx vitest` alone behaves the same against servers that are already up.
const servers = await chooseServers('test', { log: (line) => console.log(line) })
for (const line of servers.lines) console.log(line)
if (servers.problems.length) {
  for (const line of servers.problems) console.error(line)
  await servers.stop()
  process.exit(2)
}
const root = path.resolve(import.meta.dirname, '..')
const vitest = path.join(root, 'node_modules/vitest/vitest.mjs')
const child = spawn(process.execPath, [vitest, 'run', ...process.argv.slice(2)], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, ...servers.env },
})
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => child.kill(signal))
child.on('exit', (code, signal) => {
  // The embedded servers stop after the last test process is gone, never under it.
  void servers.stop().finally(() => process.exit(code ?? (signal ? 1 : 0)))
})
