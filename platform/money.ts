// Amounts travel as decimal numbers in JSON (199.99) and are stored as integer minor units
// (19999) so that no arithmetic on money is ever done in floating point.

const ZERO_DECIMAL = new Set(['BIF', 'CLP', 'DJF', 'GNF', 'JPY', 'KMF', 'KRW', 'MGA', 'PYG', 'RWF', 'UGX', 'VND', 'VUV', 'XAF', 'XOF', 'XPF'])

/** Minor units per major unit for an ISO 4217 currency (100, or 1 for zero-decimal ones). */
export function minorPerMajor(currency: string): number {
  return ZERO_DECIMAL.has(currency.toUpperCase()) ? 1 : 100
}

export function toMinor(amount: number, currency: string): number {
  return Math.round(amount * minorPerMajor(currency))
}

export function toMajor(minor: number, currency: string): number {
  return minor / minorPerMajor(currency)
}
