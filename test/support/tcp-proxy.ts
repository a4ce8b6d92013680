import net from 'node:net'
import { listenAgain } from '../../scripts/lib/listen-again.ts'

/**
 * A TCP proxy a test puts in front of a server it must not disturb (the machine's Postgres or
 * Redis, shared with others): the services under test connect to the proxy, and `cut()` makes
 * the server look gone to them alone — every open connection is reset and new ones are
 * refused until `restore()`. What a restart or a network partition looks like from a client.
 */
export interface TcpProxy {
  /** Port the proxy listens on (127.0.0.1). */
  readonly port: number
  /** Connections currently relayed. */
  readonly connections: number
  /** Resets every open connection and refuses new ones (the port stops listening). */
  cut(): Promise<void>
  /** Listens again on the same port and relays new connections. */
  restore(): Promise<void>
  /** `cut()` for `ms`, then `restore()`. */
  outage(ms: number): Promise<void>
  close(): Promise<void>
}

export interface TcpProxyOptions {
  /** Where connections go. */
  target: { host: string; port: number }
  /** Default: a free port. */
  port?: number
}

export async function startTcpProxy(options: TcpProxyOptions): Promise<TcpProxy> {
  const open = new Set<net.Socket>()
  let server: net.Server | undefined
  let port = options.port ?? 0

  const relay = (client: net.Socket) => {
    const upstream = net.connect(options.target)
    open.add(client)
    open.add(upstream)
    client.setNoDelay(true)
    upstream.setNoDelay(true)
    const drop = () => {
      open.delete(client)
      open.delete(upstream)
      client.destroy()
      upstream.destroy()
    }
    client.on('error', drop).on('close', drop)
    upstream.on('error', drop).on('close', drop)
    client.pipe(upstream)
    upstream.pipe(client)
  }

  const listen = () => new Promise<void>((resolve, reject) => {
    const next = net.createServer(relay)
    next.once('error', reject)
    // exclusive: a cut proxy must get its own port back, not share it with anyone.
    next.listen({ host: '127.0.0.1', port, exclusive: true }, () => {
      port = (next.address() as net.AddressInfo).port
      server = next
      resolve()
    })
  })

  const cut = async () => {
    const closing = server
    server = undefined
    // resetAndDestroy: the peer sees ECONNRESET at once, as when a server process dies.
    for (const socket of open) socket.resetAndDestroy()
    open.clear()
    if (closing) await new Promise<void>((resolve) => closing.close(() => resolve()))
  }

  const restore = async () => {
    if (server) return
    // The port was ours a moment ago.
    return listenAgain(listen)
  }

  await listen()
  return {
    get port() { return port },
    get connections() { return open.size / 2 },
    cut,
    restore,
    async outage(ms) {
      await cut()
      await new Promise((resolve) => setTimeout(resolve, ms))
      await restore()
    },
    close: cut,
  }
}

/** `url` with its host and port replaced by the proxy's (for DATABASE_URL / REDIS_URL). */
export function throughProxy(url: string, proxy: Pick<TcpProxy, 'port'>): string {
  const parsed = new URL(url)
  parsed.hostname = '127.0.0.1'
  parsed.port = String(proxy.port)
  return parsed.toString()
}

/** host and port of a postgres:// or redis:// URL, with the protocol's default port. */
export function targetOf(url: string): { host: string; port: number } {
  const parsed = new URL(url)
  const defaultPort = parsed.protocol.startsWith('redis') ? 6379 : 5432
  return { host: parsed.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1', port: Number(parsed.port) || defaultPort }
}
