import { type Config, isProduction } from './config.ts'

/** The dev token every participant accepts, as caller `orchestrator`, outside production. */
export const DEV_SERVICE_TOKEN = 'dev-service'

/**
 * `SERVICE_TOKENS` ("caller:token,caller:token") as token → caller. Unset outside production:
 * the dev token for caller `orchestrator`. In production a process that needs them refuses to
 * start without them.
 */
export function loadServiceTokens(config: Pick<Config, 'SERVICE_TOKENS' | 'NODE_ENV'>): Map<string, string> {
  const tokens = new Map<string, string>()
  if (!config.SERVICE_TOKENS) {
    if (isProduction(config)) throw new Error('SERVICE_TOKENS must be set in production (comma-separated caller:token pairs)')
    tokens.set(DEV_SERVICE_TOKEN, 'orchestrator')
    return tokens
  }
  for (const pair of config.SERVICE_TOKENS.split(',').map((p) => p.trim()).filter(Boolean)) {
    const separator = pair.indexOf(':')
    const caller = pair.slice(0, separator)
    const token = pair.slice(separator + 1)
    if (isProduction(config) && token.length < 16) throw new Error(`SERVICE_TOKENS: the token of "${caller}" is shorter than 16 characters`)
    tokens.set(token, caller)
  }
  return tokens
}

/**
 * The token a caller (default: the orchestrator) sends to participants. With SERVICE_TOKENS
 * unset outside production, any caller sends the dev token (participants then see it as caller
 * `orchestrator`: a participant calling another one, e.g. the tour catalog telling waiting
 * customers through the notification service, keeps keys of its own making, so they never meet).
 */
export function serviceTokenOf(config: Pick<Config, 'SERVICE_TOKENS' | 'NODE_ENV'>, caller = 'orchestrator'): string {
  if (!config.SERVICE_TOKENS && !isProduction(config)) return DEV_SERVICE_TOKEN
  for (const [token, name] of loadServiceTokens(config)) if (name === caller) return token
  throw new Error(`SERVICE_TOKENS has no entry for caller "${caller}"`)
}
