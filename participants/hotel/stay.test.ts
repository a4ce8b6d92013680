import { describe, expect, it } from 'vitest'
import { addDays, nightsBetween, nightsFrom, stayProblem } from './stay.ts'

describe('stay', () => {
  const today = '2026-03-30'

  it('counts nights from check-in up to check-out, across months', () => {
    expect(nightsBetween('2026-03-30', '2026-04-02')).toBe(3)
    expect(nightsFrom('2026-03-30', 3)).toEqual(['2026-03-30', '2026-03-31', '2026-04-01'])
    expect(addDays('2026-12-31', 1)).toBe('2027-01-01')
  })

  it('accepts a stay from today of up to 30 nights', () => {
    expect(stayProblem(today, '2026-03-31', today)).toBeUndefined()
    expect(stayProblem(today, addDays(today, 30), today)).toBeUndefined()
  })

  it('refuses an empty or reversed stay, a past check-in and more than 30 nights', () => {
    expect(stayProblem(today, today, today)).toMatch(/after checkIn/)
    expect(stayProblem('2026-04-02', '2026-04-01', today)).toMatch(/after checkIn/)
    expect(stayProblem('2026-03-29', '2026-04-01', today)).toMatch(/before today/)
    expect(stayProblem(today, addDays(today, 31), today)).toMatch(/30 nights/)
  })
})
