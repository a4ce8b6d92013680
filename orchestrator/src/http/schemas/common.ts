import { OPERATOR_ACTIONS } from '../../engine/operator-actions.ts'
import { SAGA_STATUSES } from '../../engine/saga-instance.ts'

// JSON schemas shared by the orchestrator's routes; they drive validation and the OpenAPI docs.

export const errorSchema = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      additionalProperties: true,
      properties: { code: { type: 'string' }, message: { type: 'string' } },
    },
  },
} as const

export const sagaStatusEnum = SAGA_STATUSES

export const incidentSchema = {
  type: 'object',
  additionalProperties: true,
  description: 'Why a PARKED or COMPENSATION_FAILED saga waits for an operator',
  properties: {
    step: { type: 'string' },
    phase: { type: 'string', enum: ['forward', 'compensation'] },
    kind: { type: 'string', enum: ['rejected', 'unavailable', 'paused'] },
    code: { type: 'string' },
    message: { type: 'string' },
    participant: { type: 'string' },
    participantStatus: { type: 'integer' },
    attempts: { type: 'integer' },
    since: { type: 'string' },
  },
} as const

export const sagaIdParams = {
  type: 'object',
  required: ['sagaId'],
  properties: { sagaId: { type: 'string', format: 'uuid' } },
} as const

export const waitQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    wait: { type: 'integer', minimum: 0, maximum: 30_000, default: 10_000, description: 'How long to wait for a terminal state, in ms. Default: 10000' },
  },
} as const

export const idempotencyHeaders = {
  type: 'object',
  properties: {
    'idempotency-key': { type: 'string', minLength: 1, maxLength: 255, description: 'Required (or X-Idempotency-Key): the same key and body return the same saga' },
  },
} as const

const sagaFailure = {
  type: 'object',
  additionalProperties: true,
  properties: { code: { type: 'string' }, message: { type: 'string' }, step: { type: 'string' } },
} as const

export const startResponses = {
  201: { description: 'The saga completed', type: 'object', additionalProperties: true, properties: { sagaId: { type: 'string' }, status: { type: 'string' }, state: { type: 'string' } } },
  202: { description: 'Still running after `wait`; poll the Location', type: 'object', additionalProperties: true, properties: { sagaId: { type: 'string' }, status: { type: 'string' }, state: { type: 'string' } } },
  400: { description: 'Invalid request', ...errorSchema },
  401: { description: 'No valid token', ...errorSchema },
  403: { description: 'Wrong role', ...errorSchema },
  422: {
    description: 'The saga failed (compensated) or needs an operator, or the key was reused with another body',
    type: 'object',
    additionalProperties: true,
    properties: { sagaId: { type: 'string' }, status: { type: 'string' }, error: sagaFailure, incident: incidentSchema },
  },
  429: { description: 'Rate limited', ...errorSchema },
} as const

export const stepRecordSchema = {
  type: 'object',
  additionalProperties: true,
  properties: {
    name: { type: 'string' },
    phase: { type: 'string', enum: ['forward', 'compensation'] },
    status: { type: 'string' },
    attempts: { type: 'integer' },
    startedAt: { type: 'string' },
    finishedAt: { type: 'string' },
    lastError: { type: 'object', additionalProperties: true },
  },
} as const

export const sagaViewSchema = {
  type: 'object',
  additionalProperties: true,
  properties: {
    sagaId: { type: 'string' },
    type: { type: 'string' },
    definitionVersion: { type: 'string' },
    status: { type: 'string', enum: sagaStatusEnum },
    state: { type: 'string' },
    input: { type: 'object', additionalProperties: true },
    resources: { type: 'object', additionalProperties: { type: 'string' } },
    error: sagaFailure,
    incident: incidentSchema,
    actions: { type: 'array', items: { type: 'string', enum: OPERATOR_ACTIONS }, description: 'What an operator may do to the saga now' },
    steps: { type: 'array', items: stepRecordSchema },
    createdAt: { type: 'string' },
    updatedAt: { type: 'string' },
    completedAt: { type: 'string' },
  },
} as const
