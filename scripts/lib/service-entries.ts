import path from 'node:path'
import type { ServiceName } from '../../platform/services.ts'

const ROOT = path.resolve(import.meta.dirname, '../..')

/** The file that boots a service: `orchestrator/src/http/server.ts` or `participants/<name>/main.ts`. */
export function serviceEntry(name: ServiceName): string {
  return name === 'orchestrator'
    ? path.join(ROOT, 'orchestrator/src/http/server.ts')
    : path.join(ROOT, 'participants', name, 'main.ts')
}

