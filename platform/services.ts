/**
 * The seven processes of the system, their default ports and the environment variables that
 * configure them. The single source for ports and URLs (contract: "Processes, ports").
 */
export const SERVICES = {
  orchestrator: { port: 3007, portEnv: 'ORCHESTRATOR_PORT', urlEnv: 'ORCHESTRATOR_URL' },
  'tour-catalog': { port: 3001, portEnv: 'TOUR_CATALOG_PORT', urlEnv: 'TOUR_CATALOG_URL' },
  booking: { port: 3002, portEnv: 'BOOKING_PORT', urlEnv: 'BOOKING_URL' },
  hotel: { port: 3003, portEnv: 'HOTEL_PORT', urlEnv: 'HOTEL_URL' },
  payment: { port: 3004, portEnv: 'PAYMENT_PORT', urlEnv: 'PAYMENT_URL' },
  notification: { port: 3006, portEnv: 'NOTIFICATION_PORT', urlEnv: 'NOTIFICATION_URL' },
  loyalty: { port: 3008, portEnv: 'LOYALTY_PORT', urlEnv: 'LOYALTY_URL' },
} as const

export type ServiceName = keyof typeof SERVICES
export type ParticipantName = Exclude<ServiceName, 'orchestrator'>
export const SERVICE_NAMES = Object.keys(SERVICES) as ServiceName[]
export const PARTICIPANT_NAMES = SERVICE_NAMES.filter((name): name is ParticipantName => name !== 'orchestrator')

export function isServiceName(name: string): name is ServiceName {
  return Object.hasOwn(SERVICES, name)
}

/** Bind address. Default: 127.0.0.1 */
export function bindHost(env: NodeJS.ProcessEnv = process.env): string {
  return env.HOST || '127.0.0.1'
}

/** Port of a service: `<NAME>_PORT`, else its default. */
export function servicePort(name: ServiceName, env: NodeJS.ProcessEnv = process.env): number {
  const raw = env[SERVICES[name].portEnv]
  if (raw === undefined || raw === '') return SERVICES[name].port
  const port = Number(raw)
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`${SERVICES[name].portEnv} must be a port number, got "${raw}"`)
  }
  return port
}

/** Base URL the orchestrator uses for a service: `<NAME>_URL`, else http://127.0.0.1:<port>. */
export function serviceUrl(name: ServiceName, env: NodeJS.ProcessEnv = process.env): string {
  const configured = env[SERVICES[name].urlEnv]
  if (configured) return configured.replace(/\/+$/, '')
  const host = bindHost(env)
  const reachable = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host
  return `http://${reachable}:${servicePort(name, env)}`
}
