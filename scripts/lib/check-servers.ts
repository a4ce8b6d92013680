import net from 'node:net'

export const START_POSTGRES = 'pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start'
export const START_REDIS =
  'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log'

/** True when something accepts a TCP connection at the URL's host and port. */
export function reachable(url: string, defaultPort: number, timeoutMs = 2_000): Promise<boolean> {
  const { hostname, port } = new URL(url)
  return new Promise((resolve) => {
    const socket = net.connect({ host: hostname.replace(/^\[|\]$/g, '') || '127.0.0.1', port: Number(port) || defaultPort })
    const done = (ok: boolean) => { socket.destroy(); resolve(ok) }
    socket.setTimeout(timeoutMs, () => done(false))
    socket.once('connect', () => done(true))
    socket.once('error', () => done(false))
  })
}

/** `url` with its password masked, for messages. */
export const safeUrl = (url: string) => url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@')

/**
 * One line per unreachable server, naming its URL and how to start it (empty when all is up),
 * instead of the wall of connection errors every test would print. `REDIS_URL=disabled`
 * needs no Redis.
 */
export async function unreachableServers(databaseUrl: string, redisUrl: string): Promise<string[]> {
  const problems: string[] = []
  const safe = safeUrl
  if (!(await reachable(databaseUrl, 5432))) {
    problems.push(`PostgreSQL is not reachable at ${safe(databaseUrl)}; start it with: ${START_POSTGRES} (or set DATABASE_URL)`)
  }
  if (redisUrl !== 'disabled' && !(await reachable(redisUrl, 6379))) {
    problems.push(`Redis is not reachable at ${safe(redisUrl)}; start it with: ${START_REDIS} (or set REDIS_URL)`)
  }
  return problems
}
