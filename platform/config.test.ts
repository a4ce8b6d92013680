import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { README, withSettingsTable } from '../scripts/lib/config-doc.ts'
import { ConfigError, loadConfig, SETTINGS } from './config.ts'

const refusal = (env: Record<string, string>) => {
  try {
    loadConfig(env)
  } catch (error) {
    return error
  }
  throw new Error(`${JSON.stringify(env)} was accepted`)
}

describe('configuration', () => {
  it('gives every setting its default when the environment is empty', () => {
    const config = loadConfig({})
    expect(config.SAGA_RECOVERY_INTERVAL_MS).toBe(5_000)
    expect(config.RATE_LIMIT_MAX).toBe(6_000)
    expect(config.ORCHESTRATOR_PORT).toBe(3007)
    expect(config.DATABASE_URL).toBe('postgresql://postgres@127.0.0.1:5432/saga_orchestrator')
    expect(config.API_TOKENS).toBeUndefined()
  })

  it('parses what is set and treats an empty value as unset', () => {
    const config = loadConfig({ SAGA_RECOVERY_INTERVAL_MS: '0', RATE_LIMIT_MAX: ' 50 ', LOYALTY_URL: 'http://loyalty:3008/', API_TOKENS: '' })
    expect(config.SAGA_RECOVERY_INTERVAL_MS).toBe(0)
    expect(config.RATE_LIMIT_MAX).toBe(50)
    expect(config.LOYALTY_URL).toBe('http://loyalty:3008')
    expect(config.API_TOKENS).toBeUndefined()
  })

  it.each([
    ['SAGA_RECOVERY_INTERVAL_MS', 'abc', 'SAGA_RECOVERY_INTERVAL_MS must be an integer >= 0, got "abc"'],
    ['SAGA_RECOVERY_INTERVAL_MS', '1.5', 'SAGA_RECOVERY_INTERVAL_MS must be an integer >= 0, got "1.5"'],
    ['RATE_LIMIT_WINDOW_MS', '0', 'RATE_LIMIT_WINDOW_MS must be an integer >= 1, got "0"'],
    ['ORCHESTRATOR_PORT', '70000', 'ORCHESTRATOR_PORT must be an integer from 0 to 65535, got "70000"'],
    ['LOG_LEVEL', 'loud', 'LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, got "loud"'],
    ['BOOKING_URL', 'ftp://booking', 'BOOKING_URL must be a URL (http or https), got "ftp://booking"'],
  ])('refuses %s=%s with one line naming the key', (key, value, message) => {
    const error = refusal({ [key]: value })
    expect(error).toBeInstanceOf(ConfigError)
    expect((error as ConfigError).key).toBe(key)
    expect((error as Error).message).toBe(message)
  })

  it('never echoes a secret it refuses', () => {
    const error = refusal({ API_TOKENS: 'client-without-role' }) as Error
    expect(error.message).toBe('API_TOKENS must be comma-separated name:token pairs')
    expect((refusal({ DATABASE_URL: 'mysql://root:hunter2@db/x' }) as Error).message).not.toContain('hunter2')
  })

  it('documents every setting in the README, generated from the settings', () => {
    const readme = readFileSync(README, 'utf8')
    expect(withSettingsTable(readme), 'the README table is stale: run npm run config:doc').toBe(readme)
    for (const key of Object.keys(SETTINGS)) expect(readme).toContain(`| \`${key}\` |`)
  })
})
