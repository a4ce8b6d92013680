import type { FastifyInstance } from 'fastify'
import { type Config, loadConfig } from '../../platform/config.ts'
import { buildParticipant, type ParticipantOptions } from '../shared/build-participant.ts'
import type { PaymentProvider } from './payment-provider.ts'
import { paymentRoutes } from './payments.routes.ts'
import { createSimulatorProvider } from './simulator-provider.ts'
import { createStripeProvider } from './stripe-provider.ts'

export interface PaymentOptions extends Partial<ParticipantOptions> {
  /** Who moves the money. Default: chosen by `paymentProviderFromConfig()`. */
  provider?: PaymentProvider
}

/**
 * Stripe when `STRIPE_SECRET_KEY` is set (at `STRIPE_API_BASE` if that is set too), else the
 * local simulator, which answers Stripe's test payment methods the way Stripe does.
 */
export function paymentProviderFromConfig(config: Pick<Config, 'STRIPE_SECRET_KEY' | 'STRIPE_API_BASE'>): PaymentProvider {
  const secretKey = config.STRIPE_SECRET_KEY
  if (!secretKey) return createSimulatorProvider()
  return createStripeProvider({ secretKey, apiBase: config.STRIPE_API_BASE })
}

/** Payments: charges and refunds through a payment provider. */
export async function buildPayment(options: PaymentOptions = {}): Promise<FastifyInstance> {
  const { provider: given, ...participant } = options
  const config = options.config ?? loadConfig()
  const provider = given ?? paymentProviderFromConfig(config)
  const app = await buildParticipant({ name: 'payment', schema: 'payment', routes: paymentRoutes({ provider }), ...participant, config })
  // Said once, at start, so nobody mistakes simulated charges for real ones.
  if (!given && provider.name === 'simulator') app.log.warn('payment simulator in use: STRIPE_SECRET_KEY is not set')
  return app
}
