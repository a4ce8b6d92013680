import { createHash, timingSafeEqual } from 'node:crypto'

/**
 * The credentials of an Authorization header: `Bearer`, any run of spaces or tabs, one word,
 * optional trailing blanks. Anything else is none. The scheme is matched as the contract
 * spells it (test/hardening.test.ts refuses `bearer …`), although RFC 7235 would allow any case.
 * The orchestrator and every participant read the header through this one function.
 */
export function bearerToken(header: string | undefined): string | undefined {
  const match = typeof header === 'string' ? /^Bearer[ \t]+([^\s]+)[ \t]*$/.exec(header) : null
  return match?.[1]
}

/**
 * Looks presented tokens up among known ones in constant time: SHA-256 digests compared with
 * timingSafeEqual against every entry (no early exit), so timings reveal neither a token's
 * bytes nor which entry matched. Answers the entry's value (undefined: unknown) and the
 * presented token's digest (a name for it that is no secret).
 */
export function tokenMatcher<T>(tokens: Iterable<readonly [string, T]>): (token: string) => { value: T | undefined; digest: Buffer } {
  const known = [...tokens].map(([token, value]) => ({ digest: sha256(token), value }))
  return (token) => {
    const digest = sha256(token)
    let value: T | undefined
    for (const entry of known) if (timingSafeEqual(entry.digest, digest)) value = entry.value
    return { value, digest }
  }
}

function sha256(value: string): Buffer {
  return createHash('sha256').update(value).digest()
}
