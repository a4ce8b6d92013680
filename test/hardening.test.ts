import { randomUUID } from 'node:crypto'
import type { FastifyInstance, InjectOptions } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ParticipantName } from '../platform/services.ts'
import { MAX_AMOUNT, MAX_GUESTS, MAX_SPOTS, paymentMethod, reason, reference, roomType, userId as userIdField } from '../platform/vocabulary.ts'
import { SAGA_STATUSES } from '../orchestrator/src/engine/saga-instance.ts'
import { command, isoDateInDays } from './support/participant-harness.ts'
import { startSystem, TOKENS, type TestSystem } from './support/system.ts'

// The malformed-request barrage. Every public endpoint of the orchestrator and every route of
// every participant gets well over a thousand requests that are wrong in some way: mistyped,
// missing and extra fields, boundary and absurd values, broken JSON, wrong content types,
// oversized and deeply nested bodies, bad path ids, bad query strings, bad or missing
// Idempotency-Keys and tokens, wrong methods. A seeded generator makes them, so a failure
// reproduces exactly. The promises checked for each answer:
// - never a 5xx, whatever was sent;
// - every 4xx has the contract's shape { error: { code: UPPER_SNAKE, message } } and no stack;
// - a request that is wrong in a way the API must notice is refused (4xx), never run;
// - and, at the end, not one saga or participant effect exists that these requests made.

const SEED = 0x5a6a_2024
/** Requests per endpoint: every fault alone first, then seeded random combinations. */
const CASES_PER_ENDPOINT = 1_000
const CONCURRENCY = 32

// ---------------------------------------------------------------------------------------------
// A seeded PRNG (mulberry32): the same sequence of requests on every run.

class Dice {
  #state: number
  constructor(seed: number) {
    this.#state = seed >>> 0
  }

  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0
    let t = this.#state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
  }

  int(below: number): number {
    return Math.floor(this.next() * below)
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!
  }
}

// ---------------------------------------------------------------------------------------------
// JSON with values JSON.stringify cannot produce (1e309, duplicate keys): Raw is sent verbatim.

class Raw {
  constructor(readonly text: string) {}
}

function toJson(value: unknown): string {
  const raws: string[] = []
  const text = JSON.stringify(value, (_key, v: unknown) => {
    if (v instanceof Raw) {
      raws.push(v.text)
      return `@@raw${raws.length - 1}@@`
    }
    return v
  })
  return text.replace(/"@@raw(\d+)@@"/g, (_match, index: string) => raws[Number(index)]!)
}

// ---------------------------------------------------------------------------------------------
// What each endpoint accepts, as far as the generator needs to know to break it.

type Field = (
  | { kind: 'uuid' }
  | { kind: 'text'; min: number; max: number }
  | { kind: 'int'; min: number; max: number }
  | { kind: 'number'; min: number; max: number; exclusiveMin?: boolean }
  | { kind: 'date' }
  | { kind: 'currency' }
  | { kind: 'enum'; values: readonly string[] }
  | { kind: 'object'; fields: Fields }
  | { kind: 'any-object' }
  | { kind: 'array'; item: Fields; min: number; max: number }
) & { required: boolean }
type Fields = Record<string, Field>

type Spec = Field extends infer F ? F extends Field ? Omit<F, 'required'> : never : never
const req = (spec: Spec): Field => ({ ...spec, required: true }) as Field
const opt = (spec: Spec): Field => ({ ...spec, required: false }) as Field
const text = (min: number, max: number) => ({ kind: 'text', min, max }) as const
const int = (min: number, max: number) => ({ kind: 'int', min, max }) as const
const uuid = { kind: 'uuid' } as const
const date = { kind: 'date' } as const
const currency = { kind: 'currency' } as const
const policy = { kind: 'object', fields: { minDays: req(int(0, 3650)), feePercent: req(int(0, 100)) } } as const

type Role = keyof typeof TOKENS
type PathParam = { kind: 'uuid' | 'text'; value: string }
type QueryField = Field | { kind: 'cursor'; required: false } | { kind: 'date-time'; required: false }

interface Target {
  /** e.g. "orchestrator POST /api/orchestrator/bookings" */
  name: string
  app: () => FastifyInstance
  method: 'GET' | 'POST'
  /** With :params, filled from `params`. */
  path: string
  params?: Record<string, PathParam>
  query?: { fields: Record<string, QueryField>; valid: Record<string, string>; strict: boolean }
  /** Fields of a JSON body validated by a schema, and a body that passes it. */
  body?: { fields: Fields; valid: () => Record<string, unknown> }
  /** A command without a body schema (release, retry...): any body reaches the handler. */
  acceptsAnyBody?: boolean
  /** Orchestrator: the role the endpoint needs. */
  role?: Role
  /** Needs an Idempotency-Key. */
  idempotent?: boolean
  /** Health, metrics, docs: ignores what it is not asked for, so only method and path can be wrong. */
  probe?: boolean
}

// ---------------------------------------------------------------------------------------------
// Mutations. A "fault" is wrong in a way the endpoint must refuse; "noise" is odd but harmless
// (junk trace headers, unknown query parameters on a lenient read) and only rides along.

interface Draft {
  method: string
  path: string
  params: Record<string, string>
  query: Record<string, string | string[]>
  rawQuery?: string
  /** Appended to the query string as they are (names an object cannot hold, like __proto__). */
  extraQuery: string[]
  headers: Record<string, string>
  body?: unknown
  rawBody?: string
  /** The request must be refused with a 4xx. */
  mustFail: boolean
}

interface Mutation {
  category: string
  label: string
  fault: boolean
  apply(draft: Draft): void
}

const fault = (category: string, label: string, apply: (draft: Draft) => void): Mutation => ({ category, label, fault: true, apply })
const noise = (category: string, label: string, apply: (draft: Draft) => void): Mutation => ({ category, label, fault: false, apply })

const SAMPLE_UUID = '3f2b8c1e-9a4d-4e7b-8c2a-1d5e6f7a8b9c'
const NOT_STRINGS: unknown[] = [0, 42, -1, 1.5, true, false, null, [], ['x'], [SAMPLE_UUID], {}, { value: 'x' }]
const NOT_NUMBERS: unknown[] = ['1', '2', '', 'abc', '1e3', 'NaN', true, false, null, [], [1], {}, { value: 1 }]
const NOT_OBJECTS: unknown[] = ['x', '', 1, 0, true, null, [], [{}]]
const DEEP = 4_000

function nested(depth: number): Raw {
  return new Raw(`${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`)
}

/** Values a field must refuse, each with the category it belongs to. */
function invalidValues(field: Field): Array<[string, unknown]> {
  const wrongType = (values: unknown[]) => values.map((value): [string, unknown] => ['body:wrong-type', value])
  const boundary = (values: unknown[]) => values.map((value): [string, unknown] => ['body:boundary', value])
  switch (field.kind) {
    case 'uuid':
      return [...wrongType(NOT_STRINGS), ...boundary([
        '', 'not-a-uuid', '12345', SAMPLE_UUID.slice(0, -1), `${SAMPLE_UUID}0`, SAMPLE_UUID.replace('3', 'g'),
        SAMPLE_UUID.replaceAll('-', ''), `urn:uuid:${SAMPLE_UUID}`, `{${SAMPLE_UUID}}`, '-'.repeat(36),
        '../../../etc/passwd', "' OR '1'='1", `${SAMPLE_UUID}\u0000`, 'ｕｕｉｄ-😀', 'x'.repeat(5_000), nested(50),
      ])]
    case 'text':
      return [...wrongType(NOT_STRINGS), ...boundary([
        ...(field.min > 0 ? [''] : []), 'x'.repeat(field.max + 1), 'é'.repeat(field.max + 1), '😀'.repeat(field.max + 1), 'x'.repeat(20_000),
      ])]
    case 'int':
      return [...wrongType(NOT_NUMBERS), ...boundary([
        field.min - 1, field.max + 1, field.min + 0.5, -0.5, 1e308, -1e308, 2 ** 53 + 2, -(2 ** 31) - 1,
        new Raw('1e309'), new Raw('-1e309'), new Raw(`${field.max}0000000000000000000000`),
      ])]
    case 'number':
      return [...wrongType(NOT_NUMBERS), ...boundary([
        field.exclusiveMin ? field.min : field.min - 0.01, field.max + 0.01, 1e308, -1e308, new Raw('1e309'), new Raw('-1e309'),
      ])]
    case 'date':
      return [...wrongType(NOT_STRINGS), ...boundary([
        '', 'not-a-date', '2030-13-01', '2030-02-30', '2030-1-1', '01/02/2030', '2030-01-01T00:00:00Z', '+002030-01-01',
        '２０３０-01-01', '2030-01-01\u0000', 'x'.repeat(1_000),
      ])]
    case 'currency':
      return [...wrongType(NOT_STRINGS), ...boundary(['', 'eur', 'EURO', 'EU', 'E1R', '€', 'ＥＵＲ', 'EUR\u0000', 'EUR\n'])]
    case 'enum':
      return [...wrongType(NOT_STRINGS), ...boundary(['', 'UNKNOWN', `${field.values[0]} `, field.values[0]!.toUpperCase(), field.values[0]!.toLowerCase()]
        .filter((value) => !field.values.includes(value)))]
    case 'object':
    case 'any-object':
      return wrongType(NOT_OBJECTS)
    case 'array':
      return [...wrongType(['x', 1, null, {}, true]), ...boundary(field.min > 0 ? [[]] : [])]
  }
}

/** A copy of a JSON value (Raw kept as is). */
function clone<T>(value: T): T {
  if (value instanceof Raw || value === null || typeof value !== 'object') return value
  if (Array.isArray(value)) return value.map(clone) as T
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, clone(v)])) as T
}

function setAt(body: unknown, path: string[], value: unknown): void {
  let node = body as Record<string, unknown>
  for (const key of path.slice(0, -1)) {
    if (node[key] === null || typeof node[key] !== 'object' || node[key] instanceof Raw) return
    node = node[key] as Record<string, unknown>
  }
  node[path.at(-1)!] = value
}

function deleteAt(body: unknown, path: string[]): void {
  let node = body as Record<string, unknown>
  for (const key of path.slice(0, -1)) {
    if (node[key] === null || typeof node[key] !== 'object' || node[key] instanceof Raw) return
    node = node[key] as Record<string, unknown>
  }
  delete node[path.at(-1)!]
}

/** Replaces the body with a fresh copy of the valid one before mutating it (a draft may carry Raw text). */
function ensureBody(draft: Draft, valid: () => Record<string, unknown>): Record<string, unknown> {
  if (!draft.body || typeof draft.body !== 'object' || draft.body instanceof Raw || Array.isArray(draft.body)) draft.body = valid()
  return draft.body as Record<string, unknown>
}

function fieldMutations(fields: Fields, valid: () => Record<string, unknown>, path: string[] = []): Mutation[] {
  const mutations: Mutation[] = []
  for (const [name, field] of Object.entries(fields)) {
    const at = [...path, name]
    const where = at.join('.')
    for (const [category, value] of invalidValues(field)) {
      mutations.push(fault(category, `${where} = ${preview(value)}`, (draft) => {
        delete draft.rawBody
        setAt(ensureBody(draft, valid), at, clone(value))
      }))
    }
    if (field.required) {
      mutations.push(fault('body:missing', `${where} missing`, (draft) => {
        delete draft.rawBody
        deleteAt(ensureBody(draft, valid), at)
      }))
    }
    if (field.kind === 'text') {
      // Schema-valid lengths, but text Postgres cannot store (NUL) or that is not Unicode at all.
      for (const value of ['nul\u0000inside', '\u0000', 'lone \ud800 surrogate', '\udfff']) {
        mutations.push(fault('body:unstorable-text', `${where} = ${preview(value)}`, (draft) => {
          delete draft.rawBody
          setAt(ensureBody(draft, valid), at, value)
        }))
      }
      mutations.push(fault('body:nested', `${where} = {…${DEEP} deep}`, (draft) => {
        delete draft.rawBody
        setAt(ensureBody(draft, valid), at, nested(DEEP))
      }))
    }
    if (field.kind === 'object') {
      mutations.push(...fieldMutations(field.fields, valid, at))
      mutations.push(fault('body:extra', `${where}.extra`, (draft) => {
        delete draft.rawBody
        setAt(ensureBody(draft, valid), [...at, 'unexpected'], 1)
      }))
    }
    if (field.kind === 'array') {
      mutations.push(...fieldMutations(field.item, valid, [...at, '0']))
      mutations.push(fault('body:boundary', `${where} with ${field.max + 1} items`, (draft) => {
        delete draft.rawBody
        const body = ensureBody(draft, valid)
        const first = (valid()[name] as unknown[])[0]
        setAt(body, at, Array.from({ length: field.max + 1 }, () => clone(first)))
      }))
      mutations.push(fault('body:extra', `${where}.0.extra`, (draft) => {
        delete draft.rawBody
        setAt(ensureBody(draft, valid), [...at, '0', 'unexpected'], 1)
      }))
    }
  }
  return mutations
}

function preview(value: unknown): string {
  const shown = value instanceof Raw ? value.text : JSON.stringify(value) ?? String(value)
  return shown.length > 40 ? `${shown.slice(0, 37)}…(${shown.length})` : shown
}

const INVALID_JSON = [
  '{', '}', '{"a":', '{"a":1,}', "{'a':1}", '{a:1}', '[1,2', 'nul', 'undefined', 'NaN', '{"a":NaN}', '{"a":Infinity}',
  '{"a":01}', '{"a":"\\x41"}', '{"a":"unterminated}', '{"a":1}}', '{"a":1} trailing', '\u0000', '\ufeff{"a":1', '{"a":1}\u0000',
  '{"a":"\ud800"', '/* comment */ {}', '{"__proto__":', '<xml/>', 'a=1&b=2', '--boundary\r\n',
]

const NON_OBJECT_JSON = ['null', '[]', '[{}]', '"text"', '42', '-1', '1e309', 'true', 'false', '""']

const WRONG_CONTENT_TYPES = [
  'text/plain', 'text/html', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=xyz', 'application/xml',
  'application/octet-stream', 'application/json-patch+json', 'application/jsonp', 'json', 'image/png', 'application/javascript',
]

/** Body faults for an endpoint that takes a JSON body. */
function bodyMutations(target: Target): Mutation[] {
  const valid: () => Record<string, unknown> = target.body?.valid ?? (() => ({}))
  const validText = () => toJson(valid())
  /** The valid body's JSON text with one more member in front. */
  const withMember = (member: string) => {
    const inner = validText().slice(1, -1)
    return `{${member}${inner ? `,${inner}` : ''}}`
  }
  const mutations: Mutation[] = []
  for (const raw of INVALID_JSON) {
    mutations.push(fault('body:invalid-json', `body ${preview(raw)}`, (draft) => { draft.rawBody = raw }))
  }
  mutations.push(fault('body:invalid-json', 'valid body + trailing garbage', (draft) => { draft.rawBody = `${validText()}garbage` }))
  mutations.push(fault('body:invalid-json', 'valid body cut short', (draft) => { draft.rawBody = validText().slice(0, -1) }))
  mutations.push(fault('body:invalid-json', 'empty JSON body', (draft) => { draft.rawBody = '' }))
  mutations.push(fault('body:invalid-json', 'whitespace body', (draft) => { draft.rawBody = '   \n\t ' }))
  for (const contentType of WRONG_CONTENT_TYPES) {
    mutations.push(fault('body:content-type', `valid body as ${contentType}`, (draft) => {
      draft.rawBody ??= validText()
      draft.headers['content-type'] = contentType
    }))
  }
  mutations.push(fault('body:content-type', 'valid body without a content type', (draft) => {
    draft.rawBody ??= validText()
    draft.headers['content-type'] = ''
  }))
  mutations.push(fault('body:content-length', 'content-length smaller than the body', (draft) => {
    draft.rawBody ??= validText()
    draft.headers['content-length'] = '1'
  }))
  for (const size of [65 * 1024, 200 * 1024, 1024 * 1024]) {
    mutations.push(fault('body:oversized', `valid body padded to ${size} bytes`, (draft) => {
      draft.rawBody = withMember(`"padding":"${'x'.repeat(size)}"`)
    }))
  }
  mutations.push(fault('body:oversized', 'oversized non-JSON body', (draft) => {
    draft.rawBody = 'x'.repeat(100 * 1024)
    draft.headers['content-type'] = 'text/plain'
  }))
  mutations.push(fault('body:nested', `array ${DEEP * 5} deep`, (draft) => { draft.rawBody = `${'['.repeat(DEEP * 5)}${']'.repeat(DEEP * 5)}` }))
  mutations.push(fault('body:nested', `object ${DEEP} deep`, (draft) => { draft.rawBody = nested(DEEP).text }))
  mutations.push(fault('body:prototype', '__proto__ key', (draft) => { draft.rawBody = withMember('"__proto__":{"polluted":true}') }))
  mutations.push(fault('body:prototype', 'constructor.prototype key', (draft) => { draft.rawBody = withMember('"constructor":{"prototype":{"polluted":true}}') }))
  // Without a body schema the handler gets whatever JSON arrives; the id in the path decides.
  if (target.acceptsAnyBody) return mutations

  for (const raw of NON_OBJECT_JSON) {
    mutations.push(fault('body:wrong-type', `body ${raw}`, (draft) => { draft.rawBody = raw }))
  }
  mutations.push(fault('body:missing', 'no body at all', (draft) => {
    delete draft.body
    delete draft.rawBody
  }))
  mutations.push(fault('body:missing', 'empty object', (draft) => {
    delete draft.rawBody
    draft.body = {}
  }))
  mutations.push(fault('body:extra', 'one unknown field', (draft) => {
    delete draft.rawBody
    ensureBody(draft, valid).unexpected = 'x'
  }))
  mutations.push(fault('body:extra', '3000 unknown fields', (draft) => {
    delete draft.rawBody
    const body = ensureBody(draft, valid)
    for (let i = 0; i < 3_000; i++) body[`k${i}`] = i
  }))
  const firstRequired = Object.entries(target.body!.fields).find(([, field]) => field.required && field.kind !== 'any-object')
  if (firstRequired) {
    const [name, field] = firstRequired
    const bad = invalidValues(field).find(([category]) => category === 'body:wrong-type')![1]
    mutations.push(fault('body:duplicate-key', `${name} twice, the last one wrong`, (draft) => {
      draft.rawBody = `${withMember(`${toJson(name)}:${toJson(valid()[name])}`).slice(0, -1)},${toJson(name)}:${toJson(bad)}}`
    }))
  }
  mutations.push(...fieldMutations(target.body!.fields, valid))
  return mutations
}

const BAD_TOKENS = [
  undefined, '', 'Bearer', 'Bearer ', 'Bearer wrong-token', 'bearer dev-client', 'Basic ZGV2LWNsaWVudDpkZXYtY2xpZW50',
  'dev-client', 'Bearer dev-client extra', 'Bearer dev-clien', 'Bearer DEV-CLIENT', 'Token dev-operator', `Bearer ${'x'.repeat(8_000)}`,
  'Bearer dev-support\u0000', 'Bearer ../../dev-operator', 'Bearer null', 'Bearer undefined',
]

const ALL_ROLES: Role[] = ['client', 'support', 'operator']
const MAY: Record<Role, Role[]> = { client: ['client'], support: ['support', 'operator'], operator: ['operator'] }

function authMutations(target: Target): Mutation[] {
  if (!target.role) return []
  const mutations = BAD_TOKENS.map((token) => fault('auth:token', `authorization ${preview(token ?? '(none)')}`, (draft) => {
    if (token === undefined) delete draft.headers.authorization
    else draft.headers.authorization = token
  }))
  for (const role of ALL_ROLES.filter((r) => !MAY[target.role!].includes(r))) {
    mutations.push(fault('auth:role', `${role} token`, (draft) => { draft.headers.authorization = TOKENS[role] }))
  }
  return mutations
}

function idempotencyMutations(target: Target): Mutation[] {
  if (!target.idempotent) return []
  return [
    fault('idempotency-key', 'no Idempotency-Key', (draft) => {
      delete draft.headers['idempotency-key']
      delete draft.headers['x-idempotency-key']
    }),
    fault('idempotency-key', 'empty Idempotency-Key', (draft) => { draft.headers['idempotency-key'] = '' }),
    fault('idempotency-key', 'empty X-Idempotency-Key only', (draft) => {
      delete draft.headers['idempotency-key']
      draft.headers['x-idempotency-key'] = ''
    }),
    fault('idempotency-key', 'Idempotency-Key of 256 characters', (draft) => { draft.headers['idempotency-key'] = 'k'.repeat(256) }),
    fault('idempotency-key', 'Idempotency-Key of 10000 characters', (draft) => { draft.headers['idempotency-key'] = 'k'.repeat(10_000) }),
    fault('idempotency-key', 'X-Idempotency-Key of 300 characters', (draft) => {
      delete draft.headers['idempotency-key']
      draft.headers['x-idempotency-key'] = 'x'.repeat(300)
    }),
  ]
}

const BAD_UUID_SEGMENTS = [
  'not-a-uuid', '1', '0', '-1', 'null', 'undefined', '%2e%2e%2f%2e%2e%2fetc%2fpasswd', '..%2F..%2F..%2Fetc%2Fpasswd', '..%5C..%5Cwindows',
  '%00', `${SAMPLE_UUID}%00`, `${SAMPLE_UUID.slice(0, -1)}%00`, encodeURIComponent('ｕｕｉｄ😀'), `urn%3Auuid%3A${SAMPLE_UUID}`,
  `%7B${SAMPLE_UUID}%7D`, SAMPLE_UUID.replaceAll('-', ''), '-'.repeat(36), `${SAMPLE_UUID}%20`, '%20', "'%20OR%20'1'%3D'1",
  '%E0%A4%A', '%ZZ', '%C0%AF', 'x'.repeat(90), 'x'.repeat(101), 'x'.repeat(5_000), encodeURIComponent('<script>alert(1)</script>'),
  '%F0%9F%98%80', '%0D%0ASet-Cookie:%20x=1',
]
const BAD_TEXT_SEGMENTS = ['%00', 'a%00b', '%E0%A4%A', '%ZZ', '%C0%AF', 'x'.repeat(201), 'x'.repeat(5_000), '%ED%A0%80']

function pathMutations(target: Target): Mutation[] {
  const mutations: Mutation[] = []
  for (const [name, param] of Object.entries(target.params ?? {})) {
    for (const segment of param.kind === 'uuid' ? BAD_UUID_SEGMENTS : BAD_TEXT_SEGMENTS) {
      mutations.push(fault('path', `:${name} = ${preview(segment)}`, (draft) => { draft.params[name] = segment }))
    }
  }
  // No bare dot segments (/.., /%2e%2e): clients resolve them before sending, as inject does.
  const suffixes = ['/', '//', '/%00', '/..%2F..%2Fhealth', '/x', ';jsessionid=1', '%2F', '/%2e%2e%2f']
  for (const suffix of suffixes) {
    mutations.push(fault('path', `path + ${suffix}`, (draft) => { draft.path += suffix }))
  }
  mutations.push(fault('path', 'upper-case path', (draft) => { draft.path = draft.path.toUpperCase() }))
  mutations.push(fault('path', 'double slash inside', (draft) => { draft.path = draft.path.replace('/', '//') }))
  mutations.push(fault('path', 'path of 20000 characters', (draft) => { draft.path += `/${'a'.repeat(20_000)}` }))
  for (const method of ['PUT', 'PATCH', 'DELETE']) {
    mutations.push(fault('method', method, (draft) => { draft.method = method }))
  }
  return mutations
}

function queryValues(field: QueryField): string[] {
  switch (field.kind) {
    case 'int':
      return ['-1', String(field.min - 1), String(field.max + 1), 'abc', '1.5', '', 'NaN', 'Infinity', '-Infinity', '99999999999999999999', 'true', '1,2', '%00']
    case 'date-time':
      return ['yesterday', '2030-13-01T00:00:00Z', '2030-01-01', '', '0', '-200000-01-01T00:00:00Z', '2030-01-01T25:00:00Z', 'x'.repeat(300)]
    case 'cursor':
      return [
        'garbage', '!!!', 'x'.repeat(201), Buffer.from('not|a-cursor').toString('base64url'),
        Buffer.from(`-200000-01-01T00:00:00.000Z|${SAMPLE_UUID}`).toString('base64url'),
        Buffer.from(`+275760-09-13T00:00:00.000Z|${SAMPLE_UUID}`).toString('base64url'),
        Buffer.from(`2030-01-01T00:00:00.000Z|${'-'.repeat(36)}`).toString('base64url'),
        Buffer.from(`2030-01-01T00:00:00.000Z|${'a'.repeat(36)}`).toString('base64url'),
        Buffer.from(`2030-01-01T00:00:00.000Z|${SAMPLE_UUID}|extra`).toString('base64url'),
        Buffer.from('\u0000|\u0000').toString('base64url'),
      ]
    case 'enum':
      return ['BOGUS', field.values[0]!.toLowerCase(), '', `${field.values[0]} `, 'x'.repeat(300)].filter((v) => !field.values.includes(v))
    case 'text':
      return ['x'.repeat(field.max + 1), ...(field.min > 0 ? [''] : []), 'a\u0000b']
    default:
      return []
  }
}

function queryMutations(target: Target): Mutation[] {
  const query = target.query
  if (!query) return []
  const mutations: Mutation[] = []
  for (const [name, field] of Object.entries(query.fields)) {
    for (const value of queryValues(field)) {
      mutations.push(fault('query', `?${name}=${preview(value)}`, (draft) => { draft.query[name] = value }))
    }
    if (field.kind === 'int') {
      mutations.push(fault('query', `?${name} twice`, (draft) => { draft.query[name] = [String(field.min), 'abc'] }))
    }
    if (field.required) {
      mutations.push(fault('query', `?${name} missing`, (draft) => { delete draft.query[name] }))
    }
  }
  const unknown = query.strict ? fault : noise
  mutations.push(unknown('query', 'unknown parameter', (draft) => { draft.query.unexpected = '1' }))
  mutations.push(unknown('query', '__proto__ parameter', (draft) => { draft.extraQuery.push('__proto__=x', '__proto__[polluted]=1') }))
  mutations.push(unknown('query', 'constructor[prototype] parameter', (draft) => { draft.query['constructor[prototype][x]'] = '1' }))
  mutations.push(unknown('query', 'badly encoded parameter', (draft) => { draft.rawQuery = '%ZZ=%E0%A4%A&%00=1' }))
  return mutations
}

/** Odd but harmless: rides along with faults, and is all a probe endpoint gets. */
const NOISE: Mutation[] = [
  noise('headers', 'junk traceparent', (draft) => { draft.headers.traceparent = 'zz-not-a-trace-parent' }),
  noise('headers', 'traceparent of 5000 characters', (draft) => { draft.headers.traceparent = `00-${'a'.repeat(5_000)}-01` }),
  noise('headers', 'x-saga-id of 5000 characters', (draft) => { draft.headers['x-saga-id'] = 's'.repeat(5_000) }),
  noise('headers', 'x-saga-id with a NUL', (draft) => { draft.headers['x-saga-id'] = 'saga\u0000id' }),
  noise('headers', 'x-client-id of 2000 characters', (draft) => { draft.headers['x-client-id'] = 'c'.repeat(2_000) }),
  noise('headers', 'junk accept', (draft) => { draft.headers.accept = 'application/xml;q=nonsense, */*;q=-1' }),
  noise('headers', 'user-agent of 8000 characters', (draft) => { draft.headers['user-agent'] = 'u'.repeat(8_000) }),
  noise('headers', 'accept-encoding bogus', (draft) => { draft.headers['accept-encoding'] = 'br;q=2, nonsense' }),
  noise('headers', 'x-forwarded-for junk', (draft) => { draft.headers['x-forwarded-for'] = 'not-an-ip, 999.999.1.1' }),
  noise('query', 'junk query parameter', (draft) => { draft.query[`junk${Object.keys(draft.query).length}`] = '<script>' }),
]

const PROBE_MUTATIONS: Mutation[] = [
  noise('headers', 'any token', (draft) => { draft.headers.authorization = 'Bearer wrong-token' }),
  noise('body', 'a body on a GET', (draft) => {
    draft.rawBody = '{"a":'
    draft.headers['content-type'] = 'application/json'
  }),
  noise('query', 'long query string', (draft) => { draft.rawQuery = `q=${'x'.repeat(10_000)}` }),
]

// ---------------------------------------------------------------------------------------------
// Turning mutations into requests.

interface Case {
  target: Target
  labels: string[]
  mustFail: boolean
  request: InjectOptions
}

function baseDraft(target: Target): Draft {
  const headers: Record<string, string> = {}
  if (target.role) headers.authorization = TOKENS[target.role]
  // A fresh key per request: a fault must be refused for what it is, never replayed.
  if (target.idempotent) headers['idempotency-key'] = `hardening-${randomUUID()}`
  const draft: Draft = {
    method: target.method,
    path: target.path,
    params: Object.fromEntries(Object.entries(target.params ?? {}).map(([name, param]) => [name, encodeURIComponent(param.value)])),
    query: { ...target.query?.valid },
    extraQuery: [],
    headers,
    mustFail: false,
  }
  if (target.body) draft.body = target.body.valid()
  return draft
}

function toCase(target: Target, mutations: Mutation[]): Case {
  const draft = baseDraft(target)
  for (const mutation of mutations) {
    mutation.apply(draft)
    if (mutation.fault) draft.mustFail = true
  }
  const path = draft.path.replace(/:(\w+)/g, (_match, name: string) => draft.params[name] ?? '')
  const queryString = draft.rawQuery ?? [
    ...Object.entries(draft.query).flatMap(([key, value]) => (Array.isArray(value) ? value : [value]).map((v) => `${encodeURIComponent(key)}=${encodeURIComponent(v)}`)),
    ...draft.extraQuery,
  ].join('&')
  const payload = draft.rawBody ?? (draft.body !== undefined ? toJson(draft.body) : undefined)
  const headers = { ...draft.headers }
  if (payload !== undefined && headers['content-type'] === undefined) headers['content-type'] = 'application/json'
  if (headers['content-type'] === '') delete headers['content-type']
  return {
    target,
    labels: mutations.map((m) => `${m.category}: ${m.label}`),
    mustFail: draft.mustFail,
    request: {
      method: draft.method as InjectOptions['method'],
      url: queryString ? `${path}?${queryString}` : path,
      headers,
      ...(payload !== undefined ? { payload } : {}),
    },
  }
}

function sizeOf(testCase: Case): number {
  const headers = Object.values(testCase.request.headers ?? {}).join('')
  return String(testCase.request.payload ?? '').length + String(testCase.request.url).length + headers.length
}

function casesFor(target: Target, dice: Dice): Case[] {
  const faults = target.probe
    ? pathMutations(target)
    : [...authMutations(target), ...idempotencyMutations(target), ...pathMutations(target), ...queryMutations(target),
       ...(target.method === 'POST' ? bodyMutations(target) : [])].filter((m) => m.fault)
  const harmless = [...NOISE, ...(target.probe ? PROBE_MUTATIONS : []), ...queryMutations(target).filter((m) => !m.fault)]
  const wanted = CASES_PER_ENDPOINT
  // Every fault once on its own, every piece of noise once on its own...
  const alone = faults.map((m) => toCase(target, [m]))
  const cases = [...alone, ...(target.probe ? harmless.map((m) => toCase(target, [m])) : [])]
  // ...then seeded combinations: one to three faults, up to three pieces of noise (a fifth of
  // a probe's requests are noise alone: they reach it, and a metrics scrape is not cheap). The
  // bulky faults (oversized bodies, 20000-character paths) have had their turn alone.
  const light = faults.filter((_m, i) => sizeOf(alone[i]!) < 8 * 1024)
  while (cases.length < wanted) {
    const picked: Mutation[] = []
    const withFaults = light.length > 0 && (!target.probe || dice.next() < 0.8)
    if (withFaults) for (let i = 1 + dice.int(3); i > 0; i--) picked.push(dice.pick(light))
    for (let i = dice.int(target.probe ? 4 : 3) + (target.probe ? 1 : 0); i > 0; i--) picked.push(dice.pick(harmless))
    // Noise first: a fault applied after it decides what is wrong with the request.
    picked.sort((a, b) => Number(a.fault) - Number(b.fault))
    cases.push(toCase(target, picked))
  }
  return cases
}

// ---------------------------------------------------------------------------------------------
// Judging the answers.

const UPPER_SNAKE = /^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*$/
const STACK_TRACE = /\n\s+at |\bat [\w.<>]+ \(|node_modules|\.ts:\d+|\.js:\d+:\d+/

function problemsWith(testCase: Case, status: number, body: string, contentType: string | undefined): string[] {
  const problems: string[] = []
  // /ready reports the state of Postgres and Redis, not of the request: a 503 there (say,
  // while another suite holds every connection) is the probe working.
  const dependencyDown = testCase.target.path === '/ready' && status === 503
  if (status >= 500 && !dependencyDown) problems.push(`answered ${status}`)
  if (testCase.mustFail && (status < 400 || status >= 500)) problems.push(`was not refused (${status})`)
  if (STACK_TRACE.test(body)) problems.push('body shows a stack trace')
  if (status >= 400) {
    let parsed: { error?: { code?: unknown; message?: unknown } } | undefined
    try {
      parsed = JSON.parse(body)
    } catch {
      problems.push(`error body is not JSON (${contentType}): ${body.slice(0, 80)}`)
    }
    if (parsed) {
      const code = parsed.error?.code
      if (typeof code !== 'string' || !UPPER_SNAKE.test(code)) problems.push(`error code ${JSON.stringify(code)} is not UPPER_SNAKE`)
      if (typeof parsed.error?.message !== 'string') problems.push('error has no message')
    }
  }
  return problems
}

// ---------------------------------------------------------------------------------------------
// The system, its fixtures and the endpoints.

let system: TestSystem
const tag = `hardening-${randomUUID().slice(0, 8)}`
const userId = `${tag}-user`
const fixture = { tourId: '', hotelId: '' }

beforeAll(async () => {
  system = await startSystem()
  const tour = await command(system.participant('tour-catalog'), 'POST', '/api/tours', {
    name: `${tag}-fixture`, date: isoDateInDays(60), capacity: 50, price: 40, currency: 'EUR', cancellationPolicy: { minDays: 3, feePercent: 10 },
  })
  expect(tour.statusCode).toBe(201)
  fixture.tourId = tour.json().tourId
  const hotel = await command(system.participant('hotel'), 'POST', '/api/hotels', {
    name: `${tag}-fixture`, roomTypes: [{ roomType: 'double', capacity: 2, totalRooms: 5, pricePerNight: 90, currency: 'EUR' }],
  })
  expect(hotel.statusCode).toBe(201)
  fixture.hotelId = hotel.json().hotelId
})
afterAll(async () => {
  await system?.close()
})

const orchestrator = () => system.orchestrator
const participant = (name: ParticipantName) => () => system.participant(name)

// The sagas' inputs take their limits from the same vocabulary as the participants.
const tourBookingFields: Fields = {
  tourId: req(uuid), userId: req(text(1, userIdField.maxLength)), numberOfSpots: req(int(1, MAX_SPOTS)), paymentMethod: req(text(1, paymentMethod.maxLength)), currency: opt(currency),
}
const tourBooking = () => ({ tourId: fixture.tourId, userId, numberOfSpots: 1, paymentMethod: 'pm_card_visa', currency: 'EUR' })
const cancellationFields: Fields = { userId: req(text(1, userIdField.maxLength)), reason: opt(text(0, reason.maxLength)) }
const cancellation = () => ({ userId, reason: 'plans changed' })
const hotelReservationFields: Fields = {
  hotelId: req(uuid), roomType: req(text(1, roomType.maxLength)), userId: req(text(1, userIdField.maxLength)), checkIn: req(date), checkOut: req(date),
  guests: req(int(1, MAX_GUESTS)), paymentMethod: req(text(1, paymentMethod.maxLength)),
}
const hotelReservation = () => ({
  hotelId: fixture.hotelId, roomType: 'double', userId, checkIn: isoDateInDays(30), checkOut: isoDateInDays(32), guests: 2, paymentMethod: 'pm_card_visa',
})
const waitQuery = { fields: { wait: opt(int(0, 30_000)) }, valid: { wait: '0' }, strict: true }
const startRoute = { method: 'POST', app: orchestrator, role: 'client', idempotent: true, query: waitQuery } as const


function targets(): Target[] {
  const id = () => ({ kind: 'uuid', value: randomUUID() }) as const
  const orchestratorTargets: Target[] = [
    { ...startRoute, name: 'orchestrator POST /api/orchestrator/bookings', path: '/api/orchestrator/bookings', body: { fields: tourBookingFields, valid: tourBooking } },
    {
      ...startRoute, name: 'orchestrator POST /api/orchestrator/bookings/:bookingId/cancellation', path: '/api/orchestrator/bookings/:bookingId/cancellation',
      params: { bookingId: id() }, body: { fields: cancellationFields, valid: cancellation },
    },
    { ...startRoute, name: 'orchestrator POST /api/orchestrator/hotel-reservations', path: '/api/orchestrator/hotel-reservations', body: { fields: hotelReservationFields, valid: hotelReservation } },
    { ...startRoute, name: 'orchestrator POST /api/orchestrator/sagas/tour-booking', path: '/api/orchestrator/sagas/tour-booking', body: { fields: tourBookingFields, valid: tourBooking } },
    {
      ...startRoute, name: 'orchestrator POST /api/orchestrator/sagas/booking-cancellation', path: '/api/orchestrator/sagas/booking-cancellation',
      body: { fields: { bookingId: req(uuid), ...cancellationFields }, valid: () => ({ bookingId: SAMPLE_UUID, ...cancellation() }) },
    },
    { ...startRoute, name: 'orchestrator POST /api/orchestrator/sagas/hotel-reservation', path: '/api/orchestrator/sagas/hotel-reservation', body: { fields: hotelReservationFields, valid: hotelReservation } },
    {
      name: 'orchestrator GET /api/orchestrator/sagas', app: orchestrator, method: 'GET', path: '/api/orchestrator/sagas', role: 'support',
      query: {
        strict: true,
        valid: { userId, limit: '5' },
        fields: {
          status: opt({ kind: 'enum', values: SAGA_STATUSES }), type: opt(text(0, 100)), userId: opt(text(0, userIdField.maxLength)), bookingId: opt(text(0, 100)),
          reservationId: opt(text(0, 100)), incidentCode: opt(text(0, 100)), step: opt(text(0, 100)),
          createdFrom: { kind: 'date-time', required: false }, createdTo: { kind: 'date-time', required: false },
          limit: opt(int(1, 200)), cursor: { kind: 'cursor', required: false },
        },
      },
    },
    { name: 'orchestrator GET /api/orchestrator/sagas/:sagaId', app: orchestrator, method: 'GET', path: '/api/orchestrator/sagas/:sagaId', role: 'support', params: { sagaId: id() } },
    { name: 'orchestrator POST /api/orchestrator/sagas/:sagaId/retry', app: orchestrator, method: 'POST', path: '/api/orchestrator/sagas/:sagaId/retry', role: 'operator', params: { sagaId: id() }, acceptsAnyBody: true },
    { name: 'orchestrator POST /api/orchestrator/sagas/:sagaId/abort', app: orchestrator, method: 'POST', path: '/api/orchestrator/sagas/:sagaId/abort', role: 'operator', params: { sagaId: id() }, acceptsAnyBody: true },
    { name: 'orchestrator GET /api/orchestrator/analytics/tours/:tourId', app: orchestrator, method: 'GET', path: '/api/orchestrator/analytics/tours/:tourId', role: 'support', params: { tourId: id() } },
    ...['/health', '/ready', '/metrics', '/docs/json'].map((path): Target => ({ name: `orchestrator GET ${path}`, app: orchestrator, method: 'GET', path, probe: true })),
  ]

  const command = (name: ParticipantName, path: string, extra: Partial<Target>): Target =>
    ({ name: `${name} POST ${path}`, app: participant(name), method: 'POST', path, idempotent: true, ...extra })
  const read = (name: ParticipantName, path: string, extra: Partial<Target> = {}): Target =>
    ({ name: `${name} GET ${path}`, app: participant(name), method: 'GET', path, ...extra })

  const participantTargets: Target[] = [
    read('tour-catalog', '/api/tours', { probe: true }),
    read('tour-catalog', '/api/tours/:tourId', { params: { tourId: id() } }),
    command('tour-catalog', '/api/tours', {
      body: {
        fields: {
          tourId: opt(uuid), name: req(text(1, 200)), date: req(date), capacity: req(int(1, 100_000)), availableSpots: opt(int(0, 100_000)),
          price: req({ kind: 'number', min: 0, max: 1_000_000 }), currency: req(currency), cancellationPolicy: req(policy),
        },
        valid: () => ({ name: `${tag}-tour`, date: isoDateInDays(90), capacity: 5, price: 10, currency: 'EUR', cancellationPolicy: { minDays: 1, feePercent: 0 } }),
      },
    }),
    command('tour-catalog', '/api/tours/:tourId/reservations', {
      params: { tourId: { kind: 'uuid', value: fixture.tourId } },
      body: { fields: { spots: req(int(1, 50)), currency: opt(currency) }, valid: () => ({ spots: 1, currency: 'EUR' }) },
    }),
    command('tour-catalog', '/api/reservations/:reservationId/release', { params: { reservationId: id() }, acceptsAnyBody: true }),
    read('tour-catalog', '/api/reservations/:reservationId', { params: { reservationId: id() } }),
    command('tour-catalog', '/api/tours/:tourId/waiting-list', {
      params: { tourId: { kind: 'uuid', value: fixture.tourId } },
      body: { fields: { userId: req(text(1, userIdField.maxLength)), spots: req(int(1, MAX_SPOTS)) }, valid: () => ({ userId, spots: 1 }) },
    }),
    read('tour-catalog', '/api/tours/:tourId/waiting-list', { params: { tourId: id() } }),
    read('analytics', '/api/analytics/tours/:tourId', { params: { tourId: id() } }),
    read('analytics', '/api/analytics/cancellations', { query: { fields: { reason: opt(text(1, 500)) }, valid: { reason: 'x' }, strict: true } }),

    read('booking', '/api/bookings', { query: { fields: { userId: req(text(1, userIdField.maxLength)) }, valid: { userId }, strict: false } }),
    read('booking', '/api/bookings/:bookingId', { params: { bookingId: id() } }),
    command('booking', '/api/bookings', {
      body: {
        fields: {
          reservationId: req(uuid), tourId: req(uuid), userId: req(text(1, userIdField.maxLength)), numberOfSpots: req(int(1, 50)),
          totalPrice: req({ kind: 'number', min: 0, max: MAX_AMOUNT }), currency: req(currency), tourDate: req(date), cancellationPolicy: req(policy),
        },
        valid: () => ({
          reservationId: SAMPLE_UUID, tourId: fixture.tourId, userId, numberOfSpots: 1, totalPrice: 40, currency: 'EUR',
          tourDate: isoDateInDays(60), cancellationPolicy: { minDays: 3, feePercent: 10 },
        }),
      },
    }),
    command('booking', '/api/bookings/:bookingId/confirm', {
      params: { bookingId: id() }, body: { fields: { paymentId: req(text(1, reference.maxLength)) }, valid: () => ({ paymentId: SAMPLE_UUID }) },
    }),
    command('booking', '/api/bookings/:bookingId/cancel', {
      params: { bookingId: id() },
      body: {
        fields: { userId: req(text(1, userIdField.maxLength)), reason: opt(text(0, 500)), expectedStatus: opt({ kind: 'enum', values: ['PENDING', 'CONFIRMED'] }) },
        valid: () => ({ userId, reason: 'no', expectedStatus: 'CONFIRMED' }),
      },
    }),
    command('booking', '/api/bookings/:bookingId/reinstate', { params: { bookingId: id() }, acceptsAnyBody: true }),

    read('hotel', '/api/hotels', { probe: true }),
    read('hotel', '/api/hotels/:hotelId', {
      params: { hotelId: { kind: 'uuid', value: fixture.hotelId } }, query: { fields: { days: opt(int(1, 365)) }, valid: { days: '3' }, strict: false },
    }),
    command('hotel', '/api/hotels', {
      body: {
        fields: {
          hotelId: opt(uuid), name: req(text(1, 200)),
          roomTypes: req({
            kind: 'array', min: 1, max: 50,
            item: {
              roomType: req(text(1, 50)), capacity: req(int(1, 20)), totalRooms: req(int(1, 10_000)),
              pricePerNight: req({ kind: 'number', min: 0, max: 100_000, exclusiveMin: true }), currency: req(currency),
            },
          }),
        },
        valid: () => ({ name: `${tag}-hotel`, roomTypes: [{ roomType: 'single', capacity: 1, totalRooms: 2, pricePerNight: 50, currency: 'EUR' }] }),
      },
    }),
    command('hotel', '/api/hotels/:hotelId/reservations', {
      params: { hotelId: { kind: 'uuid', value: fixture.hotelId } },
      body: {
        fields: { roomType: req(text(1, 50)), userId: req(text(1, 200)), checkIn: req(date), checkOut: req(date), guests: req(int(1, MAX_GUESTS)) },
        valid: () => ({ roomType: 'double', userId, checkIn: isoDateInDays(40), checkOut: isoDateInDays(41), guests: 1 }),
      },
    }),
    command('hotel', '/api/hotel-reservations/:reservationId/confirm', { params: { reservationId: id() }, acceptsAnyBody: true }),
    command('hotel', '/api/hotel-reservations/:reservationId/release', { params: { reservationId: id() }, acceptsAnyBody: true }),
    read('hotel', '/api/hotel-reservations/:reservationId', { params: { reservationId: id() } }),

    read('loyalty', '/api/loyalty/accounts/:userId', { params: { userId: { kind: 'text', value: userId } } }),
    command('loyalty', '/api/loyalty/accounts/:userId/points', {
      params: { userId: { kind: 'text', value: userId } },
      body: {
        fields: { amount: req({ kind: 'number', min: 0, max: MAX_AMOUNT }), currency: req(currency), reference: req(text(1, reference.maxLength)) },
        valid: () => ({ amount: 100, currency: 'EUR', reference: `${tag}-ref` }),
      },
    }),
    command('loyalty', '/api/loyalty/accounts/:userId/deductions', {
      params: { userId: { kind: 'text', value: userId } },
      body: { fields: { reference: req(text(1, 200)) }, valid: () => ({ reference: `${tag}-ref` }) },
    }),

    command('notification', '/api/notifications', {
      body: {
        fields: {
          userId: req(text(1, 200)), type: req({ kind: 'enum', values: ['booking-confirmed', 'cancellation-confirmed', 'hotel-reservation-confirmed'] }),
          sagaId: opt(text(1, 64)), data: req({ kind: 'any-object' }),
        },
        valid: () => ({ userId, type: 'booking-confirmed', sagaId: SAMPLE_UUID, data: { bookingId: SAMPLE_UUID, tourName: 'x', totalPrice: 1, currency: 'EUR' } }),
      },
    }),
    read('notification', '/api/notifications', {
      query: { fields: { userId: req(text(1, 200)), limit: opt(int(1, 200)) }, valid: { userId, limit: '5' }, strict: false },
    }),

    read('payment', '/api/payments', { query: { fields: { bookingId: opt(text(1, reference.maxLength)), reservationId: opt(text(1, reference.maxLength)) }, valid: { bookingId: `${tag}-booking` }, strict: false } }),
    read('payment', '/api/payments/:paymentId', { params: { paymentId: id() } }),
    command('payment', '/api/payments', {
      body: {
        fields: {
          userId: req(text(1, userIdField.maxLength)), amount: req({ kind: 'number', min: 0, max: MAX_AMOUNT, exclusiveMin: true }), currency: req(currency),
          paymentMethod: req(text(1, 255)), bookingId: opt(text(1, reference.maxLength)), reservationId: opt(text(1, reference.maxLength)), description: opt(text(0, 500)),
        },
        valid: () => ({ userId, amount: 12.5, currency: 'EUR', paymentMethod: 'pm_card_visa', bookingId: `${tag}-booking`, description: 'x' }),
      },
    }),
    command('payment', '/api/payments/:paymentId/refunds', {
      params: { paymentId: id() },
      body: { fields: { amount: opt({ kind: 'number', min: 0, max: MAX_AMOUNT }), reason: opt(text(0, 500)) }, valid: () => ({ amount: 1, reason: 'x' }) },
    }),
  ]

  const participantProbes = (['tour-catalog', 'booking', 'hotel', 'payment', 'notification', 'loyalty', 'analytics'] as const).flatMap((name) =>
    ['/health', '/ready', '/metrics'].map((path) => read(name, path, { probe: true })))

  return [...orchestratorTargets, ...participantTargets, ...participantProbes]
}

/** Rows this file's requests could have created, found by the tag and fixtures only they use. */
async function effects(): Promise<Record<string, number>> {
  const like = `${tag}%`
  const count = async (sql: string, ...values: unknown[]) => Number((await system.db.$queryRawUnsafe<{ n: bigint }[]>(sql, ...values))[0]!.n)
  return {
    sagas: await count(
      `SELECT count(*) AS n FROM orchestrator.sagas WHERE user_id LIKE $1 OR input::text LIKE $2 OR input->>'tourId' = $3 OR input->>'hotelId' = $4`,
      like, `%${tag}%`, fixture.tourId, fixture.hotelId),
    tours: await count('SELECT count(*) AS n FROM tour_catalog.tours WHERE name LIKE $1', like),
    tourReservations: await count('SELECT count(*) AS n FROM tour_catalog.reservations WHERE tour_id = $1::uuid', fixture.tourId),
    waitingList: await count('SELECT count(*) AS n FROM tour_catalog.waiting_list WHERE user_id LIKE $1 OR tour_id = $2::uuid', like, fixture.tourId),
    bookings: await count('SELECT count(*) AS n FROM booking.bookings WHERE user_id LIKE $1 OR tour_id = $2::uuid', like, fixture.tourId),
    payments: await count('SELECT count(*) AS n FROM payment.payments WHERE user_id LIKE $1 OR booking_id LIKE $1', like),
    hotels: await count('SELECT count(*) AS n FROM hotel.hotels WHERE name LIKE $1', like),
    hotelReservations: await count('SELECT count(*) AS n FROM hotel.reservations WHERE user_id LIKE $1 OR hotel_id = $2::uuid', like, fixture.hotelId),
    loyaltyTransactions: await count('SELECT count(*) AS n FROM loyalty.transactions WHERE user_id LIKE $1 OR reference LIKE $1', like),
    loyaltyAccounts: await count('SELECT count(*) AS n FROM loyalty.accounts WHERE user_id LIKE $1', like),
    notifications: await count('SELECT count(*) AS n FROM notification.notifications WHERE user_id LIKE $1', like),
  }
}

describe('the malformed-request barrage', () => {
  it('refuses every malformed request with a 4xx in the contract\'s shape, never a 5xx, and creates nothing', async () => {
    const dice = new Dice(SEED)
    const all = targets()
    const cases = all.flatMap((target) => casesFor(target, dice))
    const before = await effects()

    const problems: string[] = []
    const sent = new Map<string, number>()
    const statuses = new Map<number, number>()
    for (let i = 0; i < cases.length; i += CONCURRENCY) {
      await Promise.all(cases.slice(i, i + CONCURRENCY).map(async (testCase) => {
        const response = await testCase.target.app().inject(testCase.request)
        sent.set(testCase.target.name, (sent.get(testCase.target.name) ?? 0) + 1)
        statuses.set(response.statusCode, (statuses.get(response.statusCode) ?? 0) + 1)
        for (const problem of problemsWith(testCase, response.statusCode, response.body, response.headers['content-type'] as string | undefined)) {
          problems.push(`${testCase.target.name} [${testCase.labels.join(' + ')}] ${testCase.request.method} ${String(testCase.request.url).slice(0, 120)}: ${problem} — ${response.body.slice(0, 160)}`)
        }
      }))
    }
    const after = await effects()

    // HARDENING_REPORT=<file>: every problem into the file, and requests per endpoint on stdout.
    if (process.env.HARDENING_REPORT) {
      const { writeFileSync } = await import('node:fs')
      writeFileSync(process.env.HARDENING_REPORT, JSON.stringify(problems, null, 1))
      console.log([...sent].map(([name, n]) => `${String(n).padStart(6)}  ${name}`).join('\n'))
      console.log(`total ${cases.length}; statuses ${JSON.stringify(Object.fromEntries([...statuses].sort(([a], [b]) => a - b)))}`)
    }
    expect(problems.slice(0, 40), `${problems.length} problems`).toEqual([])
    expect(after).toEqual(before)
    for (const target of all) expect(sent.get(target.name), target.name).toBeGreaterThanOrEqual(CASES_PER_ENDPOINT)
  }, 120_000)
})
