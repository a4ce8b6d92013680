import { minorPerMajor, toMinor } from '../../platform/money.ts'

// Tiers follow lifetime points; a tier multiplies the points every later earn gives.
// Multipliers are kept in tenths so that points are computed in integers: 35 × 1.2 in
// floating point is 41.99999…, which would round a customer's point away.

export type Tier = 'bronze' | 'silver' | 'gold' | 'platinum'

/** Highest first: the first tier whose threshold is reached applies. */
export const TIERS: readonly { tier: Tier; minLifetimePoints: number; multiplierTenths: number }[] = [
  { tier: 'platinum', minLifetimePoints: 5000, multiplierTenths: 20 },
  { tier: 'gold', minLifetimePoints: 2000, multiplierTenths: 15 },
  { tier: 'silver', minLifetimePoints: 500, multiplierTenths: 12 },
  { tier: 'bronze', minLifetimePoints: 0, multiplierTenths: 10 },
]

function tierEntry(lifetimePoints: number) {
  return TIERS.find((entry) => lifetimePoints >= entry.minLifetimePoints) ?? TIERS.at(-1)!
}

export function tierOf(lifetimePoints: number): Tier {
  return tierEntry(lifetimePoints).tier
}

/** True when `tier` ranks above `than` (gold above silver). */
export function isHigherTier(tier: Tier, than: Tier): boolean {
  // TIERS is highest first: a smaller index is a higher tier.
  return TIERS.findIndex((entry) => entry.tier === tier) < TIERS.findIndex((entry) => entry.tier === than)
}

/** The multiplier of the tier held (1, 1.2, 1.5 or 2). */
export function multiplierOf(lifetimePoints: number): number {
  return tierEntry(lifetimePoints).multiplierTenths / 10
}

/**
 * Points an amount earns for an account with `lifetimePoints` before the earn: one point per
 * whole currency unit, times the tier's multiplier, rounded down.
 */
export function pointsFor(amount: number, currency: string, lifetimePoints: number): number {
  const minor = toMinor(amount, currency)
  return Math.floor((minor * tierEntry(lifetimePoints).multiplierTenths) / (minorPerMajor(currency) * 10))
}
