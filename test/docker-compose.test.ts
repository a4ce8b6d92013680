import { existsSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { PARTICIPANT_NAMES, SERVICE_NAMES, SERVICES } from '../platform/services.ts'
import { compiledEntry, serviceEntry } from '../scripts/lib/service-entries.ts'

// No Docker engine runs here, so docker-compose.yml is checked by reading it: every service
// and variable the contract names ("Processes, ports, configuration", "Auth", "Rate limits",
// payment's STRIPE_SECRET_KEY) is there and wired the way platform/services.ts says.

interface ComposeService {
  image?: string
  build?: { context?: string; dockerfile?: string }
  command?: string[] | string
  environment?: Record<string, string | number | boolean | null>
  ports?: string[]
  healthcheck?: { test?: string[] | string }
  depends_on?: Record<string, { condition?: string }>
  restart?: string
}

const root = path.resolve(import.meta.dirname, '..')
// Compose resolves `<<` merge keys, so the parser must too.
const compose = parse(readFileSync(path.join(root, 'docker-compose.yml'), 'utf8'), { merge: true }) as { services: Record<string, ComposeService> }
const services = compose.services

const text = (value: string[] | string | undefined) => (Array.isArray(value) ? value.join(' ') : value ?? '')
const environment = (name: string) => services[name]?.environment ?? {}
const appServices = [...SERVICE_NAMES, 'migrate']

describe('docker-compose.yml', () => {
  it('defines postgres, redis, the migrations and one service per contract service name', () => {
    expect(Object.keys(services).sort()).toEqual([...SERVICE_NAMES, 'postgres', 'redis', 'migrate'].sort())
    expect(services.postgres?.image).toMatch(/^postgres:15/)
    expect(services.redis?.image).toMatch(/^redis:7/)
  })

  it('builds every application service from the Dockerfile in the repository', () => {
    const dockerfile = readFileSync(path.join(root, 'Dockerfile'), 'utf8')
    expect(dockerfile).toMatch(/^FROM node:20-slim/m)
    expect(dockerfile).toMatch(/^USER (?!root)\S+/m)
    expect(dockerfile).toMatch(/^CMD \[/m)
    for (const name of appServices) {
      const build = services[name]?.build
      expect(build, name).toBeDefined()
      expect(path.resolve(root, build!.context ?? '.', build!.dockerfile ?? 'Dockerfile'), name).toBe(path.join(root, 'Dockerfile'))
    }
  })

  it("runs each service's own entry point from the compiled build the image makes", () => {
    const dockerfile = readFileSync(path.join(root, 'Dockerfile'), 'utf8')
    expect(dockerfile).toMatch(/scripts\/build\.ts/)
    expect(dockerfile).toMatch(/^COPY --from=build \/app\/dist \.\/dist$/m)
    for (const name of SERVICE_NAMES) {
      expect(existsSync(serviceEntry(name)), `${name}'s source entry exists`).toBe(true)
      expect(text(services[name]?.command), name).toContain(path.relative(root, compiledEntry(name)))
    }
  })

  it('gives every service its contract port, binds it on all interfaces and publishes it', () => {
    for (const name of SERVICE_NAMES) {
      const { port, portEnv } = SERVICES[name]
      expect(String(environment(name)[portEnv]), `${name} ${portEnv}`).toBe(String(port))
      expect(environment(name).HOST, name).toBe('0.0.0.0')
      expect(services[name]?.ports?.map((mapping) => mapping.split(':').at(-1)), name).toEqual([String(port)])
    }
  })

  it('connects every service to the postgres and redis services', () => {
    for (const name of appServices) {
      expect(new URL(String(environment(name).DATABASE_URL)).host, name).toBe('postgres:5432')
      expect(new URL(String(environment(name).REDIS_URL)).host, name).toBe('redis:6379')
    }
  })

  it('points the orchestrator at every participant by service name and port', () => {
    const orchestrator = environment('orchestrator')
    for (const name of PARTICIPANT_NAMES) {
      expect(orchestrator[SERVICES[name].urlEnv], SERVICES[name].urlEnv).toBe(`http://${name}:${SERVICES[name].port}`)
    }
  })

  it('configures tokens, environment and rate limits on the orchestrator and Stripe on payment', () => {
    const orchestrator = environment('orchestrator')
    for (const variable of ['API_TOKENS', 'NODE_ENV', 'RATE_LIMIT_MAX', 'RATE_LIMIT_WINDOW_MS']) {
      expect(orchestrator[variable], variable).toBeTruthy()
    }
    // Production refuses to start without tokens (or with ones under 8 characters), so the
    // value, or its `${API_TOKENS:-…}` default, must be a usable role:token list.
    const tokens = String(orchestrator.API_TOKENS).replace(/^\$\{API_TOKENS:-(.*)\}$/, '$1').split(',')
    expect(tokens.map((pair) => pair.split(':')[0]).sort()).toEqual(['client', 'operator', 'support'])
    for (const pair of tokens) expect(pair.slice(pair.indexOf(':') + 1).length, pair).toBeGreaterThanOrEqual(8)
    expect(environment('payment')).toHaveProperty('STRIPE_SECRET_KEY')
  })

  it('checks health: pg_isready, redis-cli ping, and GET /health on each service port', () => {
    expect(text(services.postgres?.healthcheck?.test)).toContain('pg_isready')
    expect(text(services.redis?.healthcheck?.test)).toContain('redis-cli ping')
    for (const name of SERVICE_NAMES) {
      expect(text(services[name]?.healthcheck?.test), name).toContain(`http://127.0.0.1:${SERVICES[name].port}/health`)
    }
  })

  it('starts services once the servers are healthy and the migrations have completed', () => {
    const migrate = services.migrate!
    expect(text(migrate.command)).toContain('npm run db:migrate')
    expect(migrate.restart).toBe('no')
    expect(migrate.depends_on?.postgres?.condition).toBe('service_healthy')
    for (const name of SERVICE_NAMES) {
      const dependsOn = services[name]?.depends_on ?? {}
      expect(dependsOn.postgres?.condition, name).toBe('service_healthy')
      expect(dependsOn.redis?.condition, name).toBe('service_healthy')
      expect(dependsOn.migrate?.condition, name).toBe('service_completed_successfully')
    }
    const orchestratorDependsOn = services.orchestrator?.depends_on ?? {}
    for (const name of PARTICIPANT_NAMES) {
      expect(orchestratorDependsOn[name]?.condition, name).toBe('service_healthy')
    }
  })
})
