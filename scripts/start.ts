import { existsSync } from 'node:fs'
import path from 'node:path'
import { configWith, isProduction } from '../platform/config.ts'
import { createDatabase } from '../platform/database.ts'
import { localServiceUrl, servicePort } from '../platform/service-addresses.ts'
import { SERVICE_NAMES, SERVICES } from '../platform/services.ts'
import { chooseServers } from './lib/dev-servers.ts'
import { watchLaunchers } from './lib/launcher-watch.ts'
import { migrateDatabase } from './lib/migrate.ts'
import { describeSeed, seedDemoData } from './lib/seed.ts'
import { ensureBuild } from './lib/build.ts'
import { compiledEntry, serviceEntry } from './lib/service-entries.ts'
import { createSupervisor, portIsFree } from './lib/supervisor.ts'

// `npm start`: picks Postgres and Redis (the ones the environment names, else those on this
// machine's standard ports, else embedded ones of its own; see lib/dev-servers.ts) and says
// which, migrates, seeds the demo data, then runs all eight services as child processes with
// one merged log stream (pretty on a terminal, JSON lines otherwise). With NODE_ENV=production
// they run from the compiled build (dist/, built first when missing or older than the
// sources; see lib/build.ts), otherwise from their TypeScript sources under tsx. Ctrl-C or
// SIGTERM stops them all; if one of them dies, all of them stop; and none outlives this
// process, however it ends (see lib/supervisor.ts). Embedded servers stop after the services.
// Exit codes: 0 after a requested stop, 1 when a service failed, 2 when the environment is not
// ready (a server unreachable, a port taken, an entry point missing).

const root = path.resolve(import.meta.dirname, '..')
const servers = await chooseServers('start', { log: (line) => console.log(line) })
for (const line of servers.lines) console.log(line)
const config = configWith(servers.env)
const url = config.DATABASE_URL
const compiled = isProduction(config)

const problems = [...servers.problems]
for (const name of SERVICE_NAMES) {
  const { portEnv } = SERVICES[name]
  if (!(await portIsFree(servicePort(name, config), config.HOST))) {
    problems.push(`Port ${servicePort(name, config)} (${name}) is already in use: is the system already running? Stop it or set ${portEnv}.`)
  }
}
if (compiled && !problems.length) {
  try {
    ensureBuild((line) => console.log(line))
  } catch (error) {
    problems.push(`The compiled build could not be made: ${error instanceof Error ? error.message : String(error)}`)
  }
}
const entryOf = compiled ? compiledEntry : serviceEntry
for (const name of SERVICE_NAMES) {
  if (!existsSync(entryOf(name))) problems.push(`The ${name} service has no entry point: ${path.relative(root, entryOf(name))} is missing.`)
}
if (problems.length) {
  for (const line of problems) console.error(line)
  await servers.stop()
  process.exit(2)
}

const applied = await migrateDatabase(url)
console.log(applied.length ? `Applied migrations: ${applied.join(', ')}` : 'Database is up to date.')
const db = createDatabase({ url, poolSize: 1 })
try {
  for (const line of describeSeed(await seedDemoData(db))) console.log(line)
} finally {
  await db.$disconnect()
}

const supervisor = createSupervisor({
  name: 'start',
  cwd: root,
  env: { ...process.env, ...servers.env },
  services: SERVICE_NAMES.map((name) => ({ name, entry: entryOf(name), healthUrl: `${localServiceUrl(name, config)}/health` })),
})

// kill -9 of npm (or of the shell or tsx CLI between it and us) reaches nobody: notice it here.
watchLaunchers((why) => {
  supervisor.log('warn', `${why}: stopping every service`)
  void supervisor.stop()
})

// One Ctrl-C often arrives more than once within milliseconds: the terminal signals npm, the
// shell and tsx too, and npm and tsx relay it. Only a signal well after the first one means
// "stop waiting and kill them".
const FORCE_AFTER_MS = 2_000
let firstSignalAt: number | undefined
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (firstSignalAt === undefined) {
      firstSignalAt = Date.now()
      supervisor.log('info', `${signal} received: stopping every service (send it again to kill them)`)
      void supervisor.stop()
    } else if (Date.now() - firstSignalAt > FORCE_AFTER_MS) {
      supervisor.log('warn', `${signal} received again: killing every service`)
      supervisor.kill()
      process.exit(1)
    }
  })
}
// A closed pipe on our stdout (`npm start | head`) must not crash the supervisor mid-shutdown.
process.stdout.on('error', () => {})

try {
  await supervisor.start()
  printBanner()
} catch {
  // Already logged with the service's name, and the others are being stopped.
}
const result = await supervisor.done
if (result.reason === 'stopped') supervisor.log('info', 'every service stopped')
else supervisor.log('error', `stopped every service: ${result.message}`)
await servers.stop()
process.exit(result.reason === 'stopped' ? 0 : 1)

function printBanner(): void {
  const api = localServiceUrl('orchestrator', config)
  const participants = SERVICE_NAMES.filter((name) => name !== 'orchestrator')
  const width = Math.max(...participants.map((name) => name.length))
  const lines = [
    '',
    'Saga orchestrator is running.',
    `  API           ${api}/api/orchestrator`,
    `  API docs      ${api}/docs`,
    `  UI            ${api}/ui`,
    '  Participants',
    ...participants.map((name) => `    ${name.padEnd(width)}  ${localServiceUrl(name, config)}`),
  ]
  if (!config.API_TOKENS && !isProduction(config)) {
    lines.push('  Tokens        API_TOKENS is unset: use "Authorization: Bearer dev-client" (or dev-support, dev-operator)')
  }
  lines.push('  Servers', ...servers.lines.map((line) => `    ${line}`))
  if (servers.embedded.postgres || servers.embedded.redis) {
    // The CLI and `npm run service` find the embedded servers only when told where they are.
    lines.push(`  CLI           ${Object.entries(servers.env).map(([key, value]) => `${key}=${value}`).join(' ')} npm run saga -- list`)
  }
  lines.push('Press Ctrl-C to stop.', '')
  process.stdout.write(lines.join('\n') + '\n')
}
