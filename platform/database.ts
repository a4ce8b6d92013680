import { PrismaPg } from '@prisma/adapter-pg'
import { PrismaClient } from '../generated/prisma/client.ts'
import { databaseUrl } from './config.ts'

export type { PrismaClient }
export type { Prisma } from '../generated/prisma/client.ts'

export interface DatabaseOptions {
  /** Default: `DATABASE_URL`, else postgresql://postgres@127.0.0.1:5432/saga_orchestrator */
  url?: string
  /** Pool size. Default: `DATABASE_POOL_SIZE`, else 10 */
  poolSize?: number
}

/** A Prisma client on the pg driver adapter (no native query engine). */
export function createDatabase(options: DatabaseOptions = {}): PrismaClient {
  const adapter = new PrismaPg({
    connectionString: options.url ?? databaseUrl(),
    max: options.poolSize ?? (Number(process.env.DATABASE_POOL_SIZE) || 10),
    connectionTimeoutMillis: 5_000,
  })
  return new PrismaClient({ adapter })
}
