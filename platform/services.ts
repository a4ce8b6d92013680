/**
 * The processes of the system, their default ports and the environment variables that
 * configure them. The single source for ports and URLs (contract: "Processes, ports"); the
 * addresses they give under a configuration are in service-addresses.ts.
 */
export const SERVICES = {
  orchestrator: { port: 3007, portEnv: 'ORCHESTRATOR_PORT', urlEnv: 'ORCHESTRATOR_URL' },
  'tour-catalog': { port: 3001, portEnv: 'TOUR_CATALOG_PORT', urlEnv: 'TOUR_CATALOG_URL' },
  booking: { port: 3002, portEnv: 'BOOKING_PORT', urlEnv: 'BOOKING_URL' },
  hotel: { port: 3003, portEnv: 'HOTEL_PORT', urlEnv: 'HOTEL_URL' },
  payment: { port: 3004, portEnv: 'PAYMENT_PORT', urlEnv: 'PAYMENT_URL' },
  notification: { port: 3006, portEnv: 'NOTIFICATION_PORT', urlEnv: 'NOTIFICATION_URL' },
  loyalty: { port: 3008, portEnv: 'LOYALTY_PORT', urlEnv: 'LOYALTY_URL' },
  analytics: { port: 3009, portEnv: 'ANALYTICS_PORT', urlEnv: 'ANALYTICS_URL' },
} as const

export type ServiceName = keyof typeof SERVICES
export type ParticipantName = Exclude<ServiceName, 'orchestrator'>
export const SERVICE_NAMES = Object.keys(SERVICES) as ServiceName[]
export const PARTICIPANT_NAMES = SERVICE_NAMES.filter((name): name is ParticipantName => name !== 'orchestrator')

export function isServiceName(name: string): name is ServiceName {
  return Object.hasOwn(SERVICES, name)
}
