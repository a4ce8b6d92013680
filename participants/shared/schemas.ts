// JSON schemas more than one participant validates against.

/** A tour's cancellation policy: at least `minDays` before the tour, refund minus `feePercent`. */
export const cancellationPolicySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['minDays', 'feePercent'],
  properties: {
    minDays: { type: 'integer', minimum: 0, maximum: 3650 },
    feePercent: { type: 'integer', minimum: 0, maximum: 100 },
  },
} as const
