import { readFile, readdir } from 'node:fs/promises'
import { createRequire } from 'node:module'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { PrismaPg } from '@prisma/adapter-pg'
import { bindMigrationAwareSqlAdapterFactory } from '@prisma/driver-adapter-utils'
import type { MigrationList, SchemaEngine } from '@prisma/schema-engine-wasm'

// Prisma's schema engine, loaded from its wasm build so migrations work without the native
// binary (which cannot be downloaded here). Node 20 cannot `import` a .wasm module, so the
// module is instantiated by hand with its JS glue as the import object, which is exactly
// what the bundler-style `schema_engine.js` entry would do.

const require = createRequire(import.meta.url)
export const ROOT = path.resolve(import.meta.dirname, '../..')
export const SCHEMA_DIR = path.join(ROOT, 'prisma/schema')
export const MIGRATIONS_DIR = path.join(ROOT, 'prisma/migrations')

type EngineModule = typeof import('@prisma/schema-engine-wasm/schema_engine_bg')
// Kept on globalThis: the wasm glue module is a process-wide singleton (one `wasm` binding),
// so a second copy of this file (vitest loads one per project) must reuse the first instance.
const cache = globalThis as { __sagaSchemaEngine?: Promise<EngineModule> }

function loadEngineModule(): Promise<EngineModule> {
  cache.__sagaSchemaEngine ??= (async () => {
    const gluePath = require.resolve('@prisma/schema-engine-wasm/schema_engine_bg')
    const dir = path.dirname(gluePath)
    const glue: EngineModule = await import(pathToFileURL(gluePath).href)
    const bytes = await readFile(path.join(dir, 'schema_engine_bg.wasm'))
    const { instance } = await wasmRuntime().instantiate(bytes, { './schema_engine_bg.js': glue })
    glue.__wbg_set_wasm(instance.exports as never)
    ;(instance.exports as { __wbindgen_start: () => void }).__wbindgen_start()
    // The engine reports Rust panics through this global before it throws.
    const g = globalThis as { PRISMA_WASM_PANIC_REGISTRY?: { set_message(m: string): void } }
    g.PRISMA_WASM_PANIC_REGISTRY ??= { set_message: (message) => { lastPanic = message } }
    return glue
  })()
  return cache.__sagaSchemaEngine
}
let lastPanic: string | undefined

// Node has WebAssembly as a global; the "DOM"-free lib this project compiles against does not
// declare it, so describe the one call used.
interface WasmRuntime {
  instantiate(bytes: Uint8Array, imports: Record<string, unknown>): Promise<{ instance: { exports: Record<string, unknown> } }>
}
const wasmRuntime = () => (globalThis as unknown as { WebAssembly: WasmRuntime }).WebAssembly

export async function readSchemaFiles(): Promise<[string, string][]> {
  const names = (await readdir(SCHEMA_DIR)).filter((name) => name.endsWith('.prisma')).sort()
  return Promise.all(names.map(async (name): Promise<[string, string]> =>
    [path.join(SCHEMA_DIR, name), await readFile(path.join(SCHEMA_DIR, name), 'utf8')]))
}

export async function readMigrationList(): Promise<MigrationList> {
  let dirs: string[] = []
  try {
    dirs = (await readdir(MIGRATIONS_DIR, { withFileTypes: true }))
      .filter((entry) => entry.isDirectory()).map((entry) => entry.name).sort()
  } catch { /* no migrations yet */ }
  const lockPath = path.join(MIGRATIONS_DIR, 'migration_lock.toml')
  const lockContent = await readFile(lockPath, 'utf8').catch(() => null)
  return {
    baseDir: MIGRATIONS_DIR,
    lockfile: { path: 'migration_lock.toml', content: lockContent },
    shadowDbInitScript: '',
    migrationDirectories: await Promise.all(dirs.map(async (dir) => {
      const content = await readFile(path.join(MIGRATIONS_DIR, dir, 'migration.sql'), 'utf8')
        .then((value) => ({ tag: 'ok' as const, value }), (error: Error) => ({ tag: 'error' as const, value: error.message }))
      return { path: dir, migrationFile: { path: 'migration.sql', content } }
    })),
  }
}

/**
 * PrismaPg that remembers the connections it opened: freeing the wasm engine does not close
 * them, and one of them holds the migration advisory lock until it is closed, which would
 * block every other process migrating the same database.
 *
 * Its connections also run a migration script as one simple query, as Postgres takes a script
 * (and as Prisma's native engine sends one): the adapter's own executeScript cuts the script at
 * every ';', which breaks any statement with a ';' inside it, such as a function body.
 */
class ClosablePrismaPg extends PrismaPg {
  readonly #opened: { dispose(): Promise<void> }[] = []
  override async connect() {
    const adapter = await super.connect()
    const inner = adapter as unknown as { client: { query(text: string): Promise<unknown> }; onError(error: unknown): never }
    adapter.executeScript = async (script: string) => {
      try {
        await inner.client.query(script)
      } catch (error) {
        inner.onError(error)
      }
    }
    this.#opened.push(adapter)
    return adapter
  }
  async closeAll(): Promise<void> {
    await Promise.allSettled(this.#opened.splice(0).map((adapter) => adapter.dispose()))
  }
}

export interface OpenEngine {
  engine: SchemaEngine
  /** Frees the engine and closes its connections (releasing its advisory lock). */
  close(): Promise<void>
}

export async function openSchemaEngine(connectionString: string, log: (line: string) => void = () => {}): Promise<OpenEngine> {
  const { SchemaEngine } = await loadEngineModule()
  const pg = new ClosablePrismaPg({ connectionString })
  try {
    const engine = await SchemaEngine.new({ datamodels: await readSchemaFiles() }, log, bindMigrationAwareSqlAdapterFactory(pg))
    return { engine, close: async () => { engine.free(); await pg.closeAll() } }
  } catch (error) {
    await pg.closeAll()
    throw withPanic(error)
  }
}

export function withPanic(error: unknown): Error {
  const err = error instanceof Error ? error : new Error(String(error))
  if (lastPanic) err.message += ` (schema engine panic: ${lastPanic})`
  return err
}

export const NO_FILTER = { externalTables: [], externalEnums: [] }
