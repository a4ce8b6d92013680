import { DEV_SERVICE_TOKEN } from '../../platform/service-tokens.ts'

/**
 * How cross-process suites read participant state: through the participants' own HTTP read
 * APIs (contract: "Read endpoints, used by support staff and by tests"), never their tables,
 * so the checks hold whatever a participant keeps inside. Every request carries a service
 * token (participants accept reads only from authenticated callers): the one place to change
 * when the suites run with SERVICE_TOKENS set.
 */
export const PARTICIPANT_HEADERS: Readonly<Record<string, string>> = { authorization: `Bearer ${DEV_SERVICE_TOKEN}` }

/** GET `path` on a participant; the parsed JSON body, `undefined` for a 404. Throws on anything else. */
export async function participantGet<T>(baseUrl: string, path: string, timeoutMs = 10_000): Promise<T | undefined> {
  for (let attempt = 1; ; attempt++) {
    try {
      const response = await fetch(`${baseUrl}${path}`, { headers: PARTICIPANT_HEADERS, signal: AbortSignal.timeout(timeoutMs) })
      if (response.status === 404) return undefined
      if (response.ok) return (await response.json()) as T
      // A participant still reconnecting to its database after an outage answers 503 briefly.
      if (response.status !== 503 || attempt >= 10) throw new Error(`GET ${path} answered ${response.status}: ${await response.text()}`)
    } catch (error) {
      if (attempt >= 10) throw error
    }
    await new Promise((resolve) => setTimeout(resolve, 300 * attempt))
  }
}
