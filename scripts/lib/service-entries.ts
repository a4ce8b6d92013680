import path from 'node:path'
import type { ServiceName } from '../../platform/services.ts'
import { DIST } from './build.ts'

const ROOT = path.resolve(import.meta.dirname, '../..')
const TSX_CLI = path.join(ROOT, 'node_modules/tsx/dist/cli.mjs')

/** The file that boots a service: `orchestrator/src/http/server.ts` or `participants/<name>/main.ts`. */
export function serviceEntry(name: ServiceName): string {
  return name === 'orchestrator'
    ? path.join(ROOT, 'orchestrator/src/http/server.ts')
    : path.join(ROOT, 'participants', name, 'main.ts')
}

/** The same entry point in the compiled build (lib/build.ts): `dist/<entry>.js`. */
export function compiledEntry(name: ServiceName): string {
  return path.join(DIST, path.relative(ROOT, serviceEntry(name)).replace(/\.ts$/, '.js'))
}

/**
 * This Node's arguments that run `entry`: compiled JavaScript as it is, TypeScript under tsx.
 * `nodeFlags` (e.g. `--cpu-prof`, which NODE_OPTIONS refuses) make a TypeScript run one process
 * (`node <flags> --import tsx <entry>`), not tsx's CLI and the node process it starts.
 */
export function nodeArgs(entry: string, nodeFlags?: string[]): string[] {
  if (/\.[cm]?js$/.test(entry)) return [...(nodeFlags ?? []), entry]
  return nodeFlags ? [...nodeFlags, '--import', 'tsx', entry] : [TSX_CLI, entry]
}
