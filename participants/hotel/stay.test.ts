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

  it('calls an empty or reversed stay and one of more than 30 nights an invalid range', () => {
    expect(stayProblem(today, today, today)).toEqual({ code: 'INVALID_DATE_RANGE', message: expect.stringMatching(/after checkIn/) })
    expect(stayProblem('2026-04-02', '2026-04-01', today)).toEqual({ code: 'INVALID_DATE_RANGE', message: expect.stringMatching(/after checkIn/) })
    expect(stayProblem(today, addDays(today, 31), today)).toEqual({ code: 'INVALID_DATE_RANGE', message: expect.stringMatching(/30 nights/) })
    // A range that is no stay is that first, even in the past.
    expect(stayProblem('2026-03-20', '2026-03-19', today)?.code).toBe('INVALID_DATE_RANGE')
  })

  it('calls a stay starting before today (UTC) a stay in the past, from yesterday on', () => {
    expect(stayProblem('2026-03-29', '2026-04-01', today)).toEqual({ code: 'STAY_IN_PAST', message: expect.stringMatching(/before today \(2026-03-30, UTC\)/) })
    expect(stayProblem('2026-03-29', '2026-03-30', today)?.code).toBe('STAY_IN_PAST')
  })
})
