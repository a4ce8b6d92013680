import type { FastifyInstance } from 'fastify'
import { buildParticipant, type ParticipantOptions } from '../shared/build-participant.ts'
import type { PaymentProvider } from './payment-provider.ts'
import { paymentRoutes } from './payments.routes.ts'
import { createSimulatorProvider } from './simulator-provider.ts'
import { createStripeProvider } from './stripe-provider.ts'

export interface PaymentOptions extends Partial<ParticipantOptions> {
  /** Who moves the money. Default: chosen by `paymentProviderFromEnvironment()`. */
  provider?: PaymentProvider
}

/**
 * Stripe when `STRIPE_SECRET_KEY` is set (at `STRIPE_API_BASE` if that is set too), else the
 * local simulator, which answers Stripe's test payment methods the way Stripe does.
 */
export function paymentProviderFromEnvironment(env: NodeJS.ProcessEnv = process.env): PaymentProvider {
  const secretKey = env.STRIPE_SECRET_KEY
  if (!secretKey) return createSimulatorProvider()
  return createStripeProvider({ secretKey, apiBase: env.STRIPE_API_BASE || undefined })
}

/** Payments: charges and refunds through a payment provider. */
export async function buildPayment(options: PaymentOptions = {}): Promise<FastifyInstance> {
  const { provider: given, ...participant } = options
  const provider = given ?? paymentProviderFromEnvironment()
  const app = await buildParticipant({ name: 'payment', schema: 'payment', routes: paymentRoutes({ provider }), ...participant })
  // Said once, at start, so nobody mistakes simulated charges for real ones.
  if (!given && provider.name === 'simulator') app.log.warn('payment simulator in use: STRIPE_SECRET_KEY is not set')
  return app
}
