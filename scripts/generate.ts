import { execFileSync } from 'node:child_process'
import { createRequire } from 'node:module'
import path from 'node:path'

// `prisma generate` does not run the schema engine, but it tries to download the native one
// first unless PRISMA_SCHEMA_ENGINE_BINARY names an existing executable. The downloads cannot
// happen here, so point it at Node itself; migrations use the wasm engine (scripts/lib/migrate.ts).
const root = path.resolve(import.meta.dirname, '..')
const prismaCli = createRequire(import.meta.url).resolve('prisma/build/index.js')
execFileSync(process.execPath, [prismaCli, 'generate'], {
  cwd: root,
  stdio: 'inherit',
  env: {
    ...process.env,
    PRISMA_SCHEMA_ENGINE_BINARY: process.env.PRISMA_SCHEMA_ENGINE_BINARY ?? process.execPath,
    PRISMA_HIDE_UPDATE_MESSAGE: '1',
    CHECKPOINT_DISABLE: '1',
  },
})
