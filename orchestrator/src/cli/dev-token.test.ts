import { Command } from 'commander'
import { decodeJwt, decodeProtectedHeader } from 'jose'
import { describe, expect, it } from 'vitest'
import { configWith } from '../../../platform/config.ts'
import { createEndUserTokens } from '../http/plugins/end-user-tokens.ts'
import { addDevTokenCommand, mintDevToken, parseTtl } from './dev-token.ts'

const blank = { AUTH_JWT_SECRET: '', AUTH_JWKS_URL: '', AUTH_JWT_ISSUER: '', AUTH_JWT_AUDIENCE: '' }
const dev = configWith({ NODE_ENV: 'development', ...blank })
const warn = () => {}

describe('mintDevToken', () => {
  it('mints an HS256 token for the user with the dev secret, which the orchestrator accepts', async () => {
    const token = await mintDevToken({ userId: 'alice', config: dev })
    expect(decodeProtectedHeader(token).alg).toBe('HS256')
    const claims = decodeJwt(token)
    expect(claims.sub).toBe('alice')
    expect(claims.exp! - claims.iat!).toBe(3600)
    expect(await createEndUserTokens(dev, { warn }).verify(token)).toEqual({ userId: 'alice' })
  })

  it('signs with AUTH_JWT_SECRET and carries the configured issuer and audience', async () => {
    const config = configWith({ NODE_ENV: 'test', ...blank, AUTH_JWT_SECRET: 'a-team-secret', AUTH_JWT_ISSUER: 'https://id.example', AUTH_JWT_AUDIENCE: 'orchestrator' })
    const token = await mintDevToken({ userId: 'bob', ttlSeconds: 300, config })
    expect(decodeJwt(token)).toMatchObject({ sub: 'bob', iss: 'https://id.example', aud: 'orchestrator' })
    expect(await createEndUserTokens(config, { warn }).verify(token)).toEqual({ userId: 'bob' })
    // Not accepted where the dev secret is the one in use.
    expect(await createEndUserTokens(dev, { warn }).verify(token)).toHaveProperty('refused')
  })

  it('is refused in production, and where only the identity provider\'s keys are accepted', async () => {
    await expect(mintDevToken({ userId: 'alice', config: configWith({ NODE_ENV: 'production', ...blank, AUTH_JWT_SECRET: 'x'.repeat(40) }) })).rejects.toThrow(/production/)
    await expect(mintDevToken({ userId: 'alice', config: configWith({ NODE_ENV: 'test', ...blank, AUTH_JWKS_URL: 'https://id.example/jwks' }) })).rejects.toThrow(/AUTH_JWKS_URL/)
  })
})

describe('parseTtl', () => {
  it('reads seconds, minutes, hours and days, up to 7 days', () => {
    expect([parseTtl('90'), parseTtl('90s'), parseTtl('15m'), parseTtl('1h'), parseTtl('2d')]).toEqual([90, 90, 900, 3600, 172_800])
    for (const bad of ['0', '-5m', '1y', '8d', 'soon', '']) expect(() => parseTtl(bad), bad).toThrow(/lifetime/)
  })
})

describe('the token command', () => {
  function program() {
    const out: string[] = []
    const err: string[] = []
    const root = new Command('saga').exitOverride().configureOutput({ writeOut: (s) => out.push(s), writeErr: (s) => err.push(s) })
    addDevTokenCommand(root, { config: dev, out: (line) => out.push(line) })
    return { root, out, err }
  }

  it('prints one line: the token, valid for --ttl', async () => {
    const { root, out } = program()
    await root.parseAsync(['token', '--user', 'alice', '--ttl', '5m'], { from: 'user' })
    expect(out).toHaveLength(1)
    const claims = decodeJwt(out[0]!)
    expect(claims.sub).toBe('alice')
    expect(claims.exp! - claims.iat!).toBe(300)
  })

  it('requires --user and a readable --ttl (usage errors, not a token)', async () => {
    const missing = program()
    await expect(missing.root.parseAsync(['token'], { from: 'user' })).rejects.toMatchObject({ code: 'commander.missingMandatoryOptionValue' })
    const badTtl = program()
    await expect(badTtl.root.parseAsync(['token', '--user', 'a', '--ttl', 'forever'], { from: 'user' })).rejects.toMatchObject({ code: 'commander.invalidArgument' })
    expect([...missing.out, ...badTtl.out]).toEqual([])
  })
})
