/** Connection settings shared by every process. */
export const DEFAULT_DATABASE_URL = 'postgresql://postgres@127.0.0.1:5432/saga_orchestrator'
export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379'

/** `DATABASE_URL`. Default: postgresql://postgres@127.0.0.1:5432/saga_orchestrator */
export function databaseUrl(env: NodeJS.ProcessEnv = process.env): string {
  return env.DATABASE_URL || DEFAULT_DATABASE_URL
}

/** `REDIS_URL`. Default: redis://127.0.0.1:6379 */
export function redisUrl(env: NodeJS.ProcessEnv = process.env): string {
  return env.REDIS_URL || DEFAULT_REDIS_URL
}

/** Reads an integer setting, failing loudly on garbage instead of silently using NaN. */
export function intSetting(env: NodeJS.ProcessEnv, name: string, fallback: number, min = 0): number {
  const raw = env[name]
  if (raw === undefined || raw === '') return fallback
  const value = Number(raw)
  if (!Number.isInteger(value) || value < min) throw new Error(`${name} must be an integer >= ${min}, got "${raw}"`)
  return value
}
