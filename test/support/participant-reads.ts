import { SERVICE_AUTHORIZATION } from './participant-harness.ts'

/**
 * How cross-process suites read participant state: through the participants' own HTTP read
 * APIs (contract: "Read endpoints, used by support staff and by tests"), never their tables,
 * so the checks hold whatever a participant keeps inside. Every request carries a service
 * token (participants accept reads only from authenticated callers): SERVICE_AUTHORIZATION,
 * the one place to change when the suites run with SERVICE_TOKENS set.
 */
export const PARTICIPANT_HEADERS: Readonly<Record<string, string>> = { authorization: SERVICE_AUTHORIZATION }

/** A participant's answer that retrying will not change (anything but a 503). */
class ParticipantReadError extends Error {}

/**
 * GET `path` on a participant; the parsed JSON body, `undefined` for a 404. A 503 (a participant
 * still reconnecting to its database after an outage) and a request that got no answer are tried
 * again, up to 10 times; any other status throws at once.
 */
export async function participantGet<T>(baseUrl: string, path: string, timeoutMs = 10_000): Promise<T | undefined> {
  for (let attempt = 1; ; attempt++) {
    try {
      const response = await fetch(`${baseUrl}${path}`, { headers: PARTICIPANT_HEADERS, signal: AbortSignal.timeout(timeoutMs) })
      if (response.status === 404) return undefined
      if (response.ok) return (await response.json()) as T
      const answer = `GET ${path} answered ${response.status}: ${await response.text()}`
      if (response.status !== 503 || attempt >= 10) throw new ParticipantReadError(answer)
    } catch (error) {
      if (error instanceof ParticipantReadError || attempt >= 10) throw error
    }
    await new Promise((resolve) => setTimeout(resolve, 300 * attempt))
  }
}
