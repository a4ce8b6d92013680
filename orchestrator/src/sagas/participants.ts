import type { Command } from '../engine/saga-definition.ts'

/** Builds commands for one participant, by the name its base URL is configured under. */
function participant(name: string) {
  return {
    post: (path: string, body?: unknown): Command => ({ participant: name, method: 'POST', path, body }),
  }
}

export const tourCatalog = participant('tour-catalog')
export const booking = participant('booking')
export const payment = participant('payment')
export const notification = participant('notification')
export const hotel = participant('hotel')
export const loyalty = participant('loyalty')

/** Path segment from data a participant returned: never let an id change the path's shape. */
export function segment(value: unknown): string {
  return encodeURIComponent(String(value))
}
