import { describe, expect, it } from 'vitest'
import { multiplierOf, pointsFor, tierOf } from './tiers.ts'

describe('loyalty tiers', () => {
  it('places accounts by lifetime points at 500, 2000 and 5000', () => {
    expect([0, 499, 500, 1999, 2000, 4999, 5000, 100_000].map(tierOf))
      .toEqual(['bronze', 'bronze', 'silver', 'silver', 'gold', 'gold', 'platinum', 'platinum'])
    expect([0, 500, 2000, 5000].map(multiplierOf)).toEqual([1, 1.2, 1.5, 2])
  })

  it('gives one point per whole currency unit times the multiplier, rounded down', () => {
    expect(pointsFor(99.99, 'EUR', 0)).toBe(99)
    expect(pointsFor(35, 'EUR', 500)).toBe(42)
    expect(pointsFor(101, 'USD', 2000)).toBe(151)
    expect(pointsFor(10.5, 'EUR', 5000)).toBe(21)
    expect(pointsFor(1500, 'JPY', 0)).toBe(1500)
    expect(pointsFor(0, 'EUR', 5000)).toBe(0)
  })
})
