import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { isDatabaseUnavailable } from './database-errors.ts'
import { AppError, errorBody } from './errors.ts'

// Fastify's own error codes that mean "the client sent something wrong", with the contract
// code each becomes. Anything not listed here and not an AppError is a 500 INTERNAL_ERROR.
const FASTIFY_CLIENT_ERRORS: Record<string, { status: number; code: string }> = {
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, code: 'INVALID_JSON' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, code: 'INVALID_JSON' },
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, code: 'PAYLOAD_TOO_LARGE' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, code: 'VALIDATION_FAILED' },
  FST_ERR_CTP_INVALID_TYPE: { status: 400, code: 'VALIDATION_FAILED' },
  FST_ERR_BAD_URL: { status: 400, code: 'VALIDATION_FAILED' },
  FST_ERR_ASYNC_CONSTRAINT: { status: 400, code: 'VALIDATION_FAILED' },
  FST_ERR_MAX_PARAM_LENGTH: { status: 414, code: 'URI_TOO_LONG' },
}

// Fastify's messages for these echo the whole URL back; ours say what is wrong with it.
const FRAMEWORK_MESSAGES: Record<string, string> = {
  FST_ERR_BAD_URL: 'The URL is not validly encoded',
  FST_ERR_MAX_PARAM_LENGTH: 'A path parameter is too long',
  FST_ERR_ASYNC_CONSTRAINT: 'The request does not match a route constraint',
}

/** Validation issues listed in a 400 at most; a body with thousands of faults gets the first ones. */
const MAX_DETAILS = 50

/**
 * Fastify's `frameworkErrors` option: errors the router raises before any route (and so any
 * error handler) is involved — a badly encoded URL, an overlong path parameter. Without it
 * Fastify answers those in its own shape, not the contract's.
 */
export function frameworkErrors(error: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  const known = FASTIFY_CLIENT_ERRORS[error.code] ?? { status: 400, code: 'VALIDATION_FAILED' }
  reply.code(known.status).send(errorBody(known.code, FRAMEWORK_MESSAGES[error.code] ?? 'The request is invalid'))
}

/**
 * Every 4xx/5xx answer in the contract's shape `{ error: { code, message, ... } }`; never a
 * stack trace, and never a 500 for something the client got wrong.
 */
export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError | AppError, request, reply) => {
    if (error instanceof AppError) {
      if (error.statusCode >= 500) request.log.error({ err: error }, error.message)
      return reply.code(error.statusCode).send(error.toBody())
    }
    if (error.validation) {
      return reply.code(400).send(errorBody('VALIDATION_FAILED', 'The request is invalid', {
        details: error.validation.slice(0, MAX_DETAILS).map((issue) => ({
          location: error.validationContext ?? 'body',
          path: issue.instancePath || '/',
          message: issue.message ?? 'is invalid',
          ...(issue.params && Object.keys(issue.params).length ? { params: issue.params } : {}),
        })),
      }))
    }
    const known = error.code ? FASTIFY_CLIENT_ERRORS[error.code] : undefined
    if (known) return reply.code(known.status).send(errorBody(known.code, error.message))
    if (error.statusCode === 429) {
      return reply.code(429).send(errorBody('RATE_LIMITED', 'Too many requests'))
    }
    if (error.statusCode && error.statusCode >= 400 && error.statusCode < 500) {
      return reply.code(error.statusCode).send(errorBody('BAD_REQUEST', error.message))
    }
    // Postgres gone for a moment (restart, network cut) is an outage, not a bug: 503, so that
    // callers retry as they do for any unavailable dependency, and a warning, not an error.
    if (isDatabaseUnavailable(error)) {
      request.log.warn({ err: error }, 'Postgres is unreachable')
      return reply.code(503).header('retry-after', '1').send(errorBody('SERVICE_UNAVAILABLE', 'Postgres is unreachable'))
    }
    request.log.error({ err: error }, 'unhandled error')
    return reply.code(500).send(errorBody('INTERNAL_ERROR', 'Internal error'))
  })

  app.setNotFoundHandler((request, reply) => {
    reply.code(404).send(errorBody('NOT_FOUND', `No route ${request.method} ${request.url.split('?')[0]}`))
  })
}
