import Fastify, { type FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { frameworkErrors, installErrorHandling } from './http-errors.ts'
import { MAX_DEPTH, installValidation, unusableInput } from './validation.ts'

// The validation every service installs, on a bare app with one route of each kind.

let app: FastifyInstance
const received: unknown[] = []

beforeAll(async () => {
  app = Fastify({ frameworkErrors, bodyLimit: 64 * 1024 })
  installErrorHandling(app)
  installValidation(app)
  app.post('/orders/:orderId', {
    schema: {
      params: { type: 'object', properties: { orderId: { type: 'string', format: 'uuid' } } },
      querystring: { type: 'object', additionalProperties: false, properties: { wait: { type: 'integer', minimum: 0, maximum: 100, default: 10 } } },
      body: {
        type: 'object',
        additionalProperties: false,
        required: ['spots', 'userId'],
        properties: { spots: { type: 'integer', minimum: 1, maximum: 50 }, userId: { type: 'string', minLength: 1 }, note: { type: 'string' }, data: { type: 'object' } },
      },
    },
  }, async (request) => {
    received.push(request.body)
    return { params: request.params, query: request.query, body: request.body }
  })
  app.get('/users/:userId', {
    schema: {
      params: { type: 'object', properties: { userId: { type: 'string', minLength: 1 } } },
      querystring: { type: 'object', properties: { q: { type: 'string' } } },
    },
  }, async (request) => ({ params: request.params, query: request.query }))
  // A command without a body schema: whatever JSON arrives reaches the handler.
  app.post('/anything', async (request) => ({ body: request.body ?? null }))
  await app.ready()
})
afterAll(async () => {
  await app.close()
})

const ORDER = '/orders/3f2b8c1e-9a4d-4e7b-8c2a-1d5e6f7a8b9c'
const post = (url: string, payload: unknown) => app.inject({ method: 'POST', url, payload: payload as object })

function expectRefused(response: { statusCode: number; json(): any }, path?: string) {
  expect(response.statusCode).toBe(400)
  expect(response.json().error.code).toBe('VALIDATION_FAILED')
  if (path) expect(response.json().error.details.map((d: { path: string }) => d.path)).toContain(path)
}

describe('validation: bodies are typed', () => {
  it('accepts a body of the right types', async () => {
    const response = await post(`${ORDER}?wait=5`, { spots: 2, userId: 'u-1' })
    expect(response.statusCode).toBe(200)
    expect(response.json()).toEqual({ params: { orderId: '3f2b8c1e-9a4d-4e7b-8c2a-1d5e6f7a8b9c' }, query: { wait: 5 }, body: { spots: 2, userId: 'u-1' } })
  })

  it.each([
    ['a numeric string for an integer', { spots: '2', userId: 'u-1' }, '/spots'],
    ['true for an integer', { spots: true, userId: 'u-1' }, '/spots'],
    ['a one-item array for an integer', { spots: [2], userId: 'u-1' }, '/spots'],
    ['null for an integer', { spots: null, userId: 'u-1' }, '/spots'],
    ['a number for a string', { spots: 2, userId: 42 }, '/userId'],
    ['false for a string', { spots: 2, userId: false }, '/userId'],
    ['a one-item array for a string', { spots: 2, userId: ['u-1'] }, '/userId'],
  ])('refuses %s rather than coercing it', async (_name, body, path) => {
    const before = received.length
    expectRefused(await post(ORDER, body), path)
    expect(received).toHaveLength(before)
  })

  it('still coerces query strings and fills their defaults, which are text by nature', async () => {
    expect((await post(`${ORDER}?wait=7`, { spots: 1, userId: 'u' })).json().query).toEqual({ wait: 7 })
    expect((await post(ORDER, { spots: 1, userId: 'u' })).json().query).toEqual({ wait: 10 })
  })
})

describe('validation: uuids are the form Postgres stores', () => {
  it.each(['urn:uuid:3f2b8c1e-9a4d-4e7b-8c2a-1d5e6f7a8b9c', '3f2b8c1e9a4d4e7b8c2a1d5e6f7a8b9c', '{3f2b8c1e-9a4d-4e7b-8c2a-1d5e6f7a8b9c}'])('refuses %s', async (id) => {
    expectRefused(await post(`/orders/${encodeURIComponent(id)}`, { spots: 1, userId: 'u' }), '/orderId')
  })

  it('accepts upper-case hex digits', async () => {
    expect((await post('/orders/3F2B8C1E-9A4D-4E7B-8C2A-1D5E6F7A8B9C', { spots: 1, userId: 'u' })).statusCode).toBe(200)
  })
})

describe('validation: input the services cannot use', () => {
  it.each([
    ['a NUL in a string', { spots: 1, userId: 'u\u0000v' }, '/userId'],
    ['a lone high surrogate', { spots: 1, userId: 'u\ud800' }, '/userId'],
    ['a lone low surrogate', { spots: 1, userId: '\udc00u' }, '/userId'],
    ['a NUL in a key of a free-form object', { spots: 1, userId: 'u', data: { 'k\u0000': 1 } }, '/data/k\u0000'],
  ])('refuses %s', async (_name, body, path) => {
    expectRefused(await post(ORDER, body), path)
  })

  it('accepts text with paired surrogates (emoji) and other Unicode', async () => {
    const response = await post(ORDER, { spots: 1, userId: 'Zoë 😀 東京', note: 'עברית' })
    expect(response.statusCode).toBe(200)
    expect(response.json().body.userId).toBe('Zoë 😀 東京')
  })

  it('refuses JSON numbers too large to be finite', async () => {
    const response = await app.inject({ method: 'POST', url: '/anything', payload: '{"amount":1e309}', headers: { 'content-type': 'application/json' } })
    expectRefused(response, '/amount')
  })

  it('refuses "Infinity" in a query string, which Ajv would coerce past the maximum', async () => {
    for (const wait of ['Infinity', '-Infinity']) expectRefused(await post(`${ORDER}?wait=${wait}`, { spots: 1, userId: 'u' }), '/wait')
  })

  it('refuses a NUL in a path parameter or a query string that is otherwise free text', async () => {
    expect((await app.inject({ method: 'GET', url: '/users/a%20b?q=c' })).json()).toEqual({ params: { userId: 'a b' }, query: { q: 'c' } })
    expectRefused(await app.inject({ method: 'GET', url: '/users/a%00b' }), '/userId')
    expectRefused(await app.inject({ method: 'GET', url: '/users/a?q=%00' }), '/q')
  })

  it(`refuses JSON nested deeper than ${MAX_DEPTH} levels, even on a route without a body schema`, async () => {
    const deep = (depth: number) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`
    expect((await app.inject({ method: 'POST', url: '/anything', payload: deep(MAX_DEPTH), headers: { 'content-type': 'application/json' } })).statusCode).toBe(200)
    for (const payload of [deep(MAX_DEPTH + 1), deep(10_000), `${'['.repeat(30_000)}${']'.repeat(30_000)}`]) {
      expectRefused(await app.inject({ method: 'POST', url: '/anything', payload, headers: { 'content-type': 'application/json' } }))
    }
  })

  it('keeps Fastify\'s protection against prototype poisoning', async () => {
    const response = await app.inject({ method: 'POST', url: '/anything', payload: '{"__proto__":{"admin":true}}', headers: { 'content-type': 'application/json' } })
    expect(response.statusCode).toBe(400)
    expect(response.json().error.code).toMatch(/^[A-Z_]+$/)
  })

  it('reports where the problem is, as a JSON pointer', () => {
    expect(unusableInput({ list: [{ 'a/b': 'ok' }, { name: 'x\u0000' }] })).toMatchObject({ instancePath: '/list/1/name', keyword: 'storableText' })
    expect(unusableInput({ n: Number.NaN })).toMatchObject({ instancePath: '/n', keyword: 'finite' })
    expect(unusableInput({ fine: ['a', 1, null, true, { b: 'c' }] })).toBeUndefined()
  })
})

describe('framework errors', () => {
  it('answers a badly encoded URL in the contract\'s shape', async () => {
    const response = await app.inject({ method: 'POST', url: '/orders/%E0%A4%A', payload: {} })
    expect(response.statusCode).toBe(400)
    expect(response.json()).toEqual({ error: { code: 'VALIDATION_FAILED', message: 'The URL is not validly encoded' } })
  })

  it('answers an overlong path parameter with 414 URI_TOO_LONG, without echoing it', async () => {
    const response = await app.inject({ method: 'POST', url: `/orders/${'x'.repeat(5_000)}`, payload: {} })
    expect(response.statusCode).toBe(414)
    expect(response.json()).toEqual({ error: { code: 'URI_TOO_LONG', message: 'A path parameter is too long' } })
  })

  it('lists at most 50 validation issues', async () => {
    const body: Record<string, unknown> = { spots: 1, userId: 'u' }
    for (let i = 0; i < 500; i++) body[`extra${i}`] = i
    const response = await post(ORDER, body)
    expect(response.statusCode).toBe(400)
    expect(response.json().error.details).toHaveLength(50)
  })
})
