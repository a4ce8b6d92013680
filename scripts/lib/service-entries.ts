import path from 'node:path'
import { bindHost, servicePort, type ServiceName } from '../../platform/services.ts'

const ROOT = path.resolve(import.meta.dirname, '../..')

/** The file that boots a service: `orchestrator/src/http/server.ts` or `participants/<name>/main.ts`. */
export function serviceEntry(name: ServiceName): string {
  return name === 'orchestrator'
    ? path.join(ROOT, 'orchestrator/src/http/server.ts')
    : path.join(ROOT, 'participants', name, 'main.ts')
}

/**
 * Where this machine reaches a service started here: its port on the bind address (loopback
 * when it binds every interface). Unlike serviceUrl, never a `<NAME>_URL` pointing elsewhere.
 */
export function localServiceUrl(name: ServiceName, env: NodeJS.ProcessEnv = process.env): string {
  const host = bindHost(env)
  const reachable = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host
  return `http://${reachable.includes(':') ? `[${reachable}]` : reachable}:${servicePort(name, env)}`
}
