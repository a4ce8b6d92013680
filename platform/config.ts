import { SERVICES, type ServiceName } from './services.ts'

// The one configuration of every process: each setting with its type, its default and what it
// is for, parsed and validated once at start. A bad value refuses to start with one line that
// names the key (`SAGA_RECOVERY_INTERVAL_MS=abc` used to become NaN and silently turn the
// recovery loop off). This is the only module that reads the environment; the README's
// configuration table is generated from SETTINGS (`npm run config:doc`) and checked by a test.

/** Thrown by loadConfig: the message names the setting and says what it must be. */
export class ConfigError extends Error {
  constructor(readonly key: string, message: string) {
    super(message)
    this.name = 'ConfigError'
  }
}

interface Setting<T> {
  /** What the setting is for, as the README lists it. */
  doc: string
  /** Which processes read it. */
  usedBy: string
  /** The value when unset or empty; `undefined`: none. */
  default: T
  /** How the default reads in the docs, when it is not the value itself. */
  defaultDoc?: string
  /** Never echo the value in an error (tokens, keys). */
  secret?: boolean
  parse(raw: string, key: string): T
}

type Options<T> = { doc: string; usedBy: string; defaultDoc?: string; secret?: boolean; default: T }

function fail(key: string, what: string, raw: string, secret?: boolean): never {
  throw new ConfigError(key, `${key} must be ${what}${secret ? '' : `, got "${raw}"`}`)
}

function text<T extends string | undefined>(options: Options<T> & { maxLength?: number }): Setting<T | string> {
  return { ...options, parse: (raw) => raw }
}

function int<T extends number | undefined>(options: Options<T> & { min?: number; max?: number }): Setting<T | number> {
  const min = options.min ?? 0
  const max = options.max ?? Number.MAX_SAFE_INTEGER
  return {
    ...options,
    parse: (raw, key) => {
      const value = /^-?\d+$/.test(raw.trim()) ? Number(raw) : Number.NaN
      if (!Number.isSafeInteger(value) || value < min || value > max) {
        fail(key, max === Number.MAX_SAFE_INTEGER ? `an integer >= ${min}` : `an integer from ${min} to ${max}`, raw)
      }
      return value
    },
  }
}

function oneOf<const V extends string, T extends V | undefined>(values: readonly V[], options: Options<T>): Setting<T | V> {
  return {
    ...options,
    parse: (raw, key) => (values.includes(raw as V) ? (raw as V) : fail(key, `one of ${values.join(', ')}`, raw)),
  }
}

function url<T extends string | undefined>(protocols: readonly string[], options: Options<T> & { allow?: readonly string[] }): Setting<T | string> {
  return {
    ...options,
    parse: (raw, key) => {
      if (options.allow?.includes(raw)) return raw
      let parsed: URL
      try {
        parsed = new URL(raw)
      } catch {
        return fail(key, `a URL (${protocols.join(' or ')})`, raw, options.secret)
      }
      if (!protocols.includes(parsed.protocol.replace(/:$/, ''))) fail(key, `a URL (${protocols.join(' or ')})`, raw, options.secret)
      return raw.replace(/\/+$/, '')
    },
  }
}

/** Comma-separated `name:value` pairs (API_TOKENS, SERVICE_TOKENS). */
function pairs<T extends string | undefined>(options: Options<T>): Setting<T | string> {
  return {
    ...options,
    parse: (raw, key) => {
      for (const pair of raw.split(',').map((p) => p.trim()).filter(Boolean)) {
        const separator = pair.indexOf(':')
        if (separator < 1 || separator === pair.length - 1) fail(key, 'comma-separated name:token pairs', raw, true)
      }
      return raw
    },
  }
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const

function servicePorts() {
  const entries = Object.entries(SERVICES) as [ServiceName, (typeof SERVICES)[ServiceName]][]
  return Object.fromEntries(entries.flatMap(([name, service]) => [
    [service.portEnv, int({ min: 0, max: 65_535, default: service.port, doc: `port of ${name}`, usedBy: name })],
    [service.urlEnv, url(['http', 'https'], { default: undefined, defaultDoc: `\`http://<HOST>:<${service.portEnv}>\``, doc: `base URL of ${name} as the orchestrator and tools reach it`, usedBy: 'orchestrator, CLI' })],
  ])) as { [K in (typeof SERVICES)[ServiceName]['portEnv']]: Setting<number> } & { [K in (typeof SERVICES)[ServiceName]['urlEnv']]: Setting<string | undefined> }
}

/** Every setting of the system. Default values and docs live here and nowhere else. */
export const SETTINGS = {
  NODE_ENV: text({ default: 'development', doc: '`production` refuses dev tokens and requires API_TOKENS / SERVICE_TOKENS', usedBy: 'all' }),
  DATABASE_URL: url(['postgres', 'postgresql'], { default: 'postgresql://postgres@127.0.0.1:5432/saga_orchestrator', doc: 'PostgreSQL; the database is created if missing', usedBy: 'all', secret: true }),
  DATABASE_POOL_SIZE: int({ min: 1, max: 1_000, default: 10, doc: 'connections per process', usedBy: 'all' }),
  TEST_DATABASE_URL: url(['postgres', 'postgresql'], { default: undefined, defaultDoc: 'DATABASE_URL with `_test` added to the database name', doc: 'the database `npm test` uses', usedBy: 'npm test', secret: true }),
  REDIS_URL: url(['redis', 'rediss'], { default: 'redis://127.0.0.1:6379', allow: ['disabled'], doc: 'Redis: saga mirror, live updates, event streams; `disabled`: none (reads and live updates from Postgres)', usedBy: 'all', secret: true }),
  HOST: text({ default: '127.0.0.1', doc: 'bind address of every service', usedBy: 'all' }),
  ...servicePorts(),
  API_TOKENS: pairs({ default: undefined, defaultDoc: 'dev tokens `dev-client`, `dev-support`, `dev-operator` (refused in production)', doc: '`role:token,...` for client, support and operator', usedBy: 'orchestrator', secret: true }),
  SERVICE_TOKENS: pairs({ default: undefined, defaultDoc: 'the dev token `dev-service` (caller `orchestrator`; refused in production)', doc: '`caller:token,...` participants accept; the orchestrator sends the `orchestrator` entry', usedBy: 'participants, orchestrator', secret: true }),
  AUTH_JWT_SECRET: text({ default: undefined, defaultDoc: 'unset (outside production: `dev-jwt-secret`)', doc: 'HS256 secret of end-user JWTs', usedBy: 'orchestrator', secret: true }),
  AUTH_JWKS_URL: url(['http', 'https'], { default: undefined, defaultDoc: 'unset', doc: 'JWKS of end-user JWTs (RS256/ES256), cached, rotation followed', usedBy: 'orchestrator' }),
  AUTH_JWT_ISSUER: text({ default: undefined, defaultDoc: 'unset: not checked', doc: 'required `iss` of end-user JWTs', usedBy: 'orchestrator' }),
  AUTH_JWT_AUDIENCE: text({ default: undefined, defaultDoc: 'unset: not checked', doc: 'required `aud` of end-user JWTs', usedBy: 'orchestrator' }),
  RATE_LIMIT_MAX: int({ min: 0, default: 6_000, doc: 'requests per principal per window (`0` turns limiting off)', usedBy: 'orchestrator' }),
  RATE_LIMIT_WINDOW_MS: int({ min: 1, default: 60_000, doc: 'rate-limit window', usedBy: 'orchestrator, participants' }),
  SERVICE_RATE_LIMIT_MAX: int({ min: 0, default: 600_000, doc: 'requests per service caller per window at each participant; requests without a valid service token are counted per client address (`0` turns limiting off)', usedBy: 'participants' }),
  SAGA_LEASE_TTL_MS: int({ min: 300, default: 15_000, doc: 'how long a silent owner keeps a saga', usedBy: 'orchestrator, CLI' }),
  SAGA_RECOVERY_INTERVAL_MS: int({ min: 0, default: 5_000, doc: 'background recovery of orphaned sagas (`0` = only at boot)', usedBy: 'orchestrator' }),
  TOUR_BOOKING_DEADLINE_MS: int({ min: 1, default: 120_000, doc: 'time a tour booking has to get past its payment', usedBy: 'orchestrator' }),
  BOOKING_CANCELLATION_DEADLINE_MS: int({ min: 1, default: 120_000, doc: 'time a cancellation has to get past its refund', usedBy: 'orchestrator' }),
  HOTEL_RESERVATION_DEADLINE_MS: int({ min: 1, default: 120_000, doc: 'time a hotel reservation has to get past its payment', usedBy: 'orchestrator' }),
  STRIPE_SECRET_KEY: text({ default: undefined, defaultDoc: 'unset: a local simulator of Stripe\'s test cards (logged at start)', doc: 'Stripe API key', usedBy: 'payment', secret: true }),
  STRIPE_API_BASE: url(['http', 'https'], { default: undefined, defaultDoc: 'Stripe\'s API', doc: 'Stripe API base URL', usedBy: 'payment' }),
  EVENT_MAX_DELIVERIES: int({ min: 1, default: 5, doc: 'deliveries of a domain event before it moves to `events:dead`', usedBy: 'event consumers' }),
  EVENT_CLAIM_IDLE_MS: int({ min: 50, default: 10_000, doc: 'a domain event unacknowledged this long is delivered again: taken over from a dead consumer, or retried after its handler failed', usedBy: 'event consumers' }),
  EVENT_RELAY_POLL_MS: int({ min: 10, default: 1_000, doc: 'how often a service reads its outbox without being nudged by a commit (events of another process, a missed nudge)', usedBy: 'all' }),
  EVENT_RELAY_FAULT: oneOf(['exit-after-publish'] as const, { default: undefined, defaultDoc: 'unset', doc: 'fault injection for tests: die after publishing outbox events to Redis, before deleting them from the outbox', usedBy: 'all' }),
  LOG_LEVEL: oneOf(LOG_LEVELS, { default: undefined, defaultDoc: '`info` (the saga CLI: `warn`)', doc: 'log level', usedBy: 'all' }),
  LOG_FORMAT: oneOf(['json', 'pretty'] as const, { default: undefined, defaultDoc: 'pretty on a terminal, JSON otherwise', doc: 'log format', usedBy: 'all' }),
  PARTICIPANT_FAULT: oneOf(['exit-after-commit'] as const, { default: undefined, defaultDoc: 'unset', doc: 'fault injection for tests: die after a command commits, before answering', usedBy: 'participants' }),
} as const

type Settings = typeof SETTINGS
export type SettingKey = keyof Settings

/** The parsed configuration: one typed value per setting. */
export type Config = { readonly [K in SettingKey]: ReturnType<Settings[K]['parse']> | Settings[K]['default'] }

/** A source of raw settings: `process.env`, or a test's own object. */
export type Environment = Readonly<Record<string, string | undefined>>

/**
 * Parses every setting from `env` (default: the process environment). Unset or empty values
 * take their default. Throws ConfigError naming the first key with a bad value.
 */
export function loadConfig(env: Environment = process.env): Config {
  const config: Record<string, unknown> = {}
  for (const [key, setting] of Object.entries(SETTINGS) as [string, Setting<unknown>][]) {
    const raw = env[key]
    config[key] = raw === undefined || raw.trim() === '' ? setting.default : setting.parse(raw.trim(), key)
  }
  return Object.freeze(config) as Config
}

/** A configuration with `overrides` applied over `env` (tests: one setting changed). */
export function configWith(overrides: Environment, env: Environment = process.env): Config {
  return loadConfig({ ...env, ...overrides })
}

export const isProduction = (config: Pick<Config, 'NODE_ENV'>) => config.NODE_ENV === 'production'

/** The settings as rows of the README's configuration table. */
export function settingsTable(): string {
  const rows = (Object.entries(SETTINGS) as [string, Setting<unknown>][]).map(([key, setting]) => {
    const shown = setting.defaultDoc ?? (setting.default === undefined ? 'unset' : `\`${String(setting.default)}\``)
    return `| \`${key}\` | ${shown} | ${setting.usedBy} | ${setting.doc} |`
  })
  return ['| Variable | Default | Used by | What |', '|---|---|---|---|', ...rows].join('\n')
}
