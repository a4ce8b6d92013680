import { Ajv, type ErrorObject, type Options, type ValidateFunction } from 'ajv'
import ajvFormats from 'ajv-formats'
import type { FastifyInstance } from 'fastify'
import { AppError } from './errors.ts'

// JSON-schema validation for every service: Fastify's own setup (Ajv with ajv-formats,
// defaults applied, every error reported), with three differences that the malformed-request
// barrage (test/hardening.test.ts) showed were needed:
//
// 1. A JSON body is taken as typed. Fastify's Ajv coerces types everywhere, so `"2"`, `true` and
//    `[2]` all passed as the integer 2, and `42` as the string "42": a mistyped request started
//    a saga. Query strings, path parameters and headers are text by nature and stay coerced
//    (the way Fastify's documentation splits it).
// 2. `format: "uuid"` is the hyphenated form Postgres stores. ajv-formats also accepts
//    "urn:uuid:…", which the uuid columns refuse: a 500 instead of a 400.
// 3. Input the services cannot use is refused like any invalid input: text with NUL characters
//    or unpaired surrogates (Postgres refuses both in text and jsonb), numbers that are not
//    finite (Ajv lets a coerced "Infinity" through its minimum and maximum; JSON's 1e309 parses
//    as Infinity), and JSON nested deeper than MAX_DEPTH (the idempotency fingerprint, like any
//    recursive walk, overflowed the stack on a body 4000 levels deep). Bodies are checked as
//    they are parsed, so a route without a body schema is covered too; query strings, path
//    parameters and headers after their schema passed.

/** Deepest nesting of objects and arrays a request may have. */
export const MAX_DEPTH = 32

// ajv-formats is CommonJS: its plugin is the module's `default` export.
const addFormats = ajvFormats.default

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
// NUL, a high surrogate not followed by a low one, or a low one not preceded by a high one.
const UNSTORABLE_TEXT = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/

function createAjv(coerceTypes: Options['coerceTypes']): Ajv {
  const ajv = new Ajv({ coerceTypes, useDefaults: true, removeAdditional: false, allErrors: true, addUsedSchema: false })
  addFormats(ajv)
  ajv.addFormat('uuid', UUID)
  return ajv
}

function issue(instancePath: string, keyword: string, message: string): ErrorObject {
  return { instancePath, schemaPath: '#', keyword, params: {}, message }
}

const pointer = (key: string) => key.replaceAll('~', '~0').replaceAll('/', '~1')

/**
 * The first thing in a validated value the services cannot use, if any. Iterative, so that
 * a hostile nesting depth cannot overflow the stack here either.
 */
export function unusableInput(value: unknown): ErrorObject | undefined {
  const pending: Array<{ value: unknown; path: string; depth: number }> = [{ value, path: '', depth: 0 }]
  while (pending.length) {
    const { value: current, path, depth } = pending.pop()!
    if (typeof current === 'string') {
      if (UNSTORABLE_TEXT.test(current)) return issue(path, 'storableText', 'must not contain NUL characters or unpaired surrogates')
    } else if (typeof current === 'number') {
      if (!Number.isFinite(current)) return issue(path, 'finite', 'must be a finite number')
    } else if (current !== null && typeof current === 'object') {
      if (depth >= MAX_DEPTH) return issue(path, 'maxDepth', `must not be nested deeper than ${MAX_DEPTH} levels`)
      for (const [key, item] of Object.entries(current)) {
        const at = `${path}/${pointer(key)}`
        if (UNSTORABLE_TEXT.test(key)) return issue(at, 'storableText', 'names must not contain NUL characters or unpaired surrogates')
        pending.push({ value: item, path: at, depth: depth + 1 })
      }
    }
  }
  return undefined
}

/** The schema's validator, then the check for unusable input; errors in Ajv's shape either way. */
function guarded(validate: ValidateFunction): ValidateFunction {
  const check = ((data: unknown) => {
    if (!validate(data)) {
      check.errors = validate.errors
      return false
    }
    const problem = unusableInput(data)
    check.errors = problem ? [problem] : null
    return !problem
  }) as ValidateFunction
  return check
}

/** Installs the validation described above on an app; call it before registering routes. */
export function installValidation(app: FastifyInstance): void {
  const typed = createAjv(false)
  const coercing = createAjv('array')
  app.setValidatorCompiler(({ schema, httpPart }) => httpPart === 'body' ? typed.compile(schema) : guarded(coercing.compile(schema)))

  // Fastify's own JSON parser (prototype-poisoning protection included), then the check.
  const parseJson = app.getDefaultJsonParser('error', 'error')
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    // parseAs: string, so the body is a string here.
    parseJson(request, body as string, (error: Error | null, value?: unknown) => {
      if (error) return done(error, undefined)
      const problem = unusableInput(value)
      if (!problem) return done(null, value)
      done(new AppError('VALIDATION_FAILED', 'The request is invalid', {
        details: [{ location: 'body', path: problem.instancePath || '/', message: problem.message }],
      }), undefined)
    })
  })
}
