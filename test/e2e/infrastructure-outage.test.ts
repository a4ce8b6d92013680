import { afterAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../../platform/config.ts'
import { freePort, runScript, stopAll } from '../support/processes.ts'
import { startTcpProxy, targetOf, type TcpProxy, throughProxy } from '../support/tcp-proxy.ts'

// A service started while its servers are down comes up by itself once they are back, and
// says meanwhile what it is waiting for. (An orchestrator restarted while Redis was down used
// to refuse to start: "Redis is not reachable", though Redis is only a mirror.) The servers
// look down through TCP proxies this test cuts: the real ones are shared and never touched.

const config = loadConfig()
const proxies: TcpProxy[] = []
afterAll(async () => {
  await stopAll()
  for (const proxy of proxies) await proxy.close()
})

async function cutProxy(url: string): Promise<TcpProxy> {
  const proxy = await startTcpProxy({ target: targetOf(url) })
  proxies.push(proxy)
  await proxy.cut()
  return proxy
}

async function ready(url: string): Promise<{ status: number; body: Record<string, unknown> } | undefined> {
  try {
    const response = await fetch(`${url}/ready`, { signal: AbortSignal.timeout(5_000) })
    return { status: response.status, body: (await response.json()) as Record<string, unknown> }
  } catch {
    return undefined
  }
}

describe('a service started while Postgres and Redis are down', () => {
  it('waits for Postgres with backoff, starts without Redis, and is ready once both are back', async () => {
    const postgres = await cutProxy(config.DATABASE_URL)
    const redis = config.REDIS_URL === 'disabled' ? undefined : await cutProxy(config.REDIS_URL)
    const port = await freePort()
    const url = `http://127.0.0.1:${port}`
    const service = runScript('scripts/service.ts', ['orchestrator'], {
      DATABASE_URL: throughProxy(config.DATABASE_URL, postgres),
      ...(redis ? { REDIS_URL: throughProxy(config.REDIS_URL, redis) } : {}),
      ORCHESTRATOR_PORT: String(port), HOST: '127.0.0.1', LOG_FORMAT: 'json', LOG_LEVEL: 'info', RATE_LIMIT_MAX: '0',
    })

    // It says what it waits for, and keeps waiting rather than exiting.
    if (redis) await expect.poll(() => service.output(), { timeout: 20_000 }).toContain('Redis is not reachable')
    await expect.poll(() => service.output().match(/PostgreSQL is not reachable .*retrying in/g)?.length ?? 0, { timeout: 20_000 }).toBeGreaterThanOrEqual(3)
    expect(service.child.exitCode).toBeNull()

    // Postgres back: it migrates and serves; /ready names what is still missing.
    await postgres.restore()
    await expect.poll(async () => (await ready(url))?.status, { timeout: 30_000, interval: 250 }).toBe(redis ? 503 : 200)
    if (redis) {
      expect((await ready(url))?.body).toMatchObject({ status: 'unavailable', postgres: 'up', redis: 'down', error: { code: 'SERVICE_UNAVAILABLE', message: 'Redis is unreachable' } })
      // Redis back: the client reconnects by itself.
      await redis.restore()
      await expect.poll(async () => (await ready(url))?.body, { timeout: 15_000, interval: 250 }).toMatchObject({ status: 'ready', postgres: 'up', redis: 'up' })
    }

    // Postgres gone again under the running service: 503 naming it, no exit, and back after.
    await postgres.cut()
    await expect.poll(async () => (await ready(url))?.body, { timeout: 10_000, interval: 250 })
      .toMatchObject({ status: 'unavailable', postgres: 'down', error: { message: 'Postgres is unreachable' } })
    await postgres.restore()
    await expect.poll(async () => (await ready(url))?.status, { timeout: 15_000, interval: 250 }).toBe(200)
    expect(service.child.exitCode).toBeNull()
    expect(service.output()).not.toContain('shutting down after an error')
  }, 120_000)
})
