import type { Redis } from 'ioredis'
import type pg from 'pg'
import { summarize, type LatencySummary } from './stats.ts'

/**
 * The floor under every engine number on this machine: a Postgres round trip, a durable
 * one-row commit (WAL flushed to disk, as every saga transition must be), a Redis round trip
 * and a MULTI like the mirror's. Measured one at a time, on the bench database.
 */
export interface Calibration {
  postgresRoundTripMs: LatencySummary
  postgresCommitMs: LatencySummary
  redisRoundTripMs: LatencySummary
  redisMultiMs: LatencySummary
}

async function time(times: number, action: () => Promise<unknown>): Promise<LatencySummary> {
  const samples: number[] = []
  for (let i = 0; i < times; i++) {
    const began = performance.now()
    await action()
    samples.push(performance.now() - began)
  }
  return summarize(samples)
}

export async function calibrate(client: pg.Client, redis: Redis, times = 300): Promise<Calibration> {
  await client.query('CREATE TABLE IF NOT EXISTS public.bench_calibration (id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT now())')
  try {
    await time(30, () => client.query('SELECT 1'))
    const postgresRoundTripMs = await time(times, () => client.query('SELECT 1'))
    const postgresCommitMs = await time(times, () => client.query('INSERT INTO public.bench_calibration DEFAULT VALUES'))
    const redisRoundTripMs = await time(times, () => redis.ping())
    const redisMultiMs = await time(times, () => redis.multi()
      .set('saga:bench-calibration', 'x'.repeat(600), 'EX', 60)
      .xadd('bench:calibration', 'MAXLEN', '~', '1000', '*', 'sagaId', 'x', 'status', 'RUNNING')
      .publish('saga-updates:bench-calibration', 'x')
      .exec())
    return { postgresRoundTripMs, postgresCommitMs, redisRoundTripMs, redisMultiMs }
  } finally {
    await client.query('DROP TABLE IF EXISTS public.bench_calibration')
    await redis.del('saga:bench-calibration', 'bench:calibration')
  }
}
