import { defineConfig } from 'prisma/config'
import { loadConfig } from './platform/config.ts'

// Prisma CLI configuration. The schema is a folder: one file per owning service.
// The CLI is only used for `generate` here; migrations are applied by scripts/migrate.ts
// through Prisma's own schema engine (wasm build), so `prisma migrate deploy` stays
// interchangeable wherever the native engine is available.
export default defineConfig({
  schema: 'prisma/schema',
  migrations: { path: 'prisma/migrations' },
  datasource: { url: loadConfig().DATABASE_URL },
})
