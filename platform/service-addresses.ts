import type { Config } from './config.ts'
import { PARTICIPANT_NAMES, type ParticipantName, SERVICES, type ServiceName } from './services.ts'

// Where each service listens and where the others reach it, under a configuration: the table
// of services (services.ts) is read by the configuration's schema (config.ts), and these read both.

/** Port of a service: `<NAME>_PORT`, else its default. */
export function servicePort(name: ServiceName, config: Config): number {
  return config[SERVICES[name].portEnv]
}

/** Where this machine reaches a service started here: loopback when it binds every interface. */
export function localServiceUrl(name: ServiceName, config: Config): string {
  const host = config.HOST === '0.0.0.0' || config.HOST === '::' ? '127.0.0.1' : config.HOST
  return `http://${host.includes(':') ? `[${host}]` : host}:${servicePort(name, config)}`
}

/** Base URL the orchestrator uses for a service: `<NAME>_URL`, else the local address. */
export function serviceUrl(name: ServiceName, config: Config): string {
  return config[SERVICES[name].urlEnv] ?? localServiceUrl(name, config)
}

/** Base URLs of every participant, by name. */
export function participantUrls(config: Config): Record<ParticipantName, string> {
  return Object.fromEntries(PARTICIPANT_NAMES.map((name) => [name, serviceUrl(name, config)])) as Record<ParticipantName, string>
}
