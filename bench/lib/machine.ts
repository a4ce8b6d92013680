import os from 'node:os'
import type { Redis } from 'ioredis'
import type pg from 'pg'

export interface MachineInfo {
  cpus: number
  cpuModel: string
  memoryGiB: number
  os: string
  node: string
  postgres: string
  postgresSettings: Record<string, string>
  redis: string
  /** 1-minute load average when the run began: anything near the core count means a busy machine. */
  loadAverageAtStart: number
}

const PG_SETTINGS = ['synchronous_commit', 'fsync', 'wal_sync_method', 'full_page_writes', 'shared_buffers', 'max_connections', 'checkpoint_timeout']

export async function machineInfo(client: pg.Client, redis: Redis): Promise<MachineInfo> {
  const { rows: [version] } = await client.query<{ v: string }>("SELECT current_setting('server_version') AS v")
  const { rows: settings } = await client.query<{ name: string; setting: string; unit: string | null }>(
    'SELECT name, setting, unit FROM pg_settings WHERE name = ANY($1)', [PG_SETTINGS])
  const info = await redis.info('server')
  return {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    os: `${os.type()} ${os.release()}`,
    node: process.version,
    postgres: version!.v,
    postgresSettings: Object.fromEntries(settings.map((s) => [s.name, s.unit ? `${s.setting} (${s.unit})` : s.setting])),
    redis: /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown',
    loadAverageAtStart: Math.round(os.loadavg()[0]! * 100) / 100,
  }
}
