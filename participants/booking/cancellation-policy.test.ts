import { describe, expect, it } from 'vitest'
import { daysBeforeTour, quoteCancellation } from './cancellation-policy.ts'

const tour = (date: string, totalPriceMinor: number, minDays: number, feePercent: number) =>
  ({ tourDate: new Date(`${date}T00:00:00Z`), totalPriceMinor, policy: { minDays, feePercent } })

describe('cancellation policy', () => {
  it('counts whole UTC days, whatever the time of day', () => {
    expect(daysBeforeTour(new Date('2030-03-10T00:00:00Z'), new Date('2030-03-03T00:00:00Z'))).toBe(7)
    expect(daysBeforeTour(new Date('2030-03-10T00:00:00Z'), new Date('2030-03-03T23:59:59Z'))).toBe(7)
    expect(daysBeforeTour(new Date('2030-03-10T00:00:00Z'), new Date('2030-03-10T12:00:00Z'))).toBe(0)
    expect(daysBeforeTour(new Date('2030-03-10T00:00:00Z'), new Date('2030-03-12T08:00:00Z'))).toBe(-2)
  })

  it('allows cancelling exactly minDays ahead and refuses one day later', () => {
    expect(quoteCancellation(tour('2030-03-10', 10_000, 7, 20), new Date('2030-03-03T18:00:00Z')))
      .toEqual({ allowed: true, daysBefore: 7, refundMinor: 8_000 })
    expect(quoteCancellation(tour('2030-03-10', 10_000, 7, 20), new Date('2030-03-04T00:00:00Z')))
      .toEqual({ allowed: false, daysBefore: 6, minDays: 7 })
  })

  it('never allows cancelling a tour that is over, even with no minimum notice', () => {
    expect(quoteCancellation(tour('2030-03-10', 10_000, 0, 0), new Date('2030-03-10T20:00:00Z')).allowed).toBe(true)
    expect(quoteCancellation(tour('2030-03-10', 10_000, 0, 0), new Date('2030-03-11T00:00:00Z')).allowed).toBe(false)
  })

  it('rounds the refund half up to the nearest minor unit', () => {
    const refund = (totalPriceMinor: number, feePercent: number) => {
      const quote = quoteCancellation(tour('2030-03-10', totalPriceMinor, 0, feePercent), new Date('2030-03-01T00:00:00Z'))
      return quote.allowed ? quote.refundMinor : undefined
    }
    expect(refund(5, 50)).toBe(3)
    expect(refund(9_999, 15)).toBe(8_499)
    expect(refund(12_345, 0)).toBe(12_345)
    expect(refund(12_345, 100)).toBe(0)
  })
})
