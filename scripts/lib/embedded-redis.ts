import type net from 'node:net'
import { listenAgain } from './listen-again.ts'

// A Redis-protocol server of our own, from the pure-TypeScript `js-redis-server` package (an
// optional dependency: production images leave it out). Runs inside the process that starts
// it (`npm start`'s supervisor, `npm test`'s runner, a chaos suite), so it can never outlive
// that process. Data lives in memory only, like the machine's Redis (which keeps nothing on
// disk): the mirror and its view cache are rebuilt from Postgres as sagas move.
//
// Verdict of the evaluation (scripts/lib/embedded-redis.test.ts runs every command the project
// uses against it and, when one is reachable, against a real Redis): it implements them all,
// with two adjustments made here from outside the package:
// - it never sets TCP_NODELAY, so with several commands in flight on one connection every
//   reply waited for the client's delayed ACK (~40 ms; 2.2 ms per command at 20 in flight);
// - it hands every write to a keyspace-notification listener that first deep-copies the whole
//   value, so XADD cost grew with the stream (0.4 ms at 2,000 entries, 1.6 ms at 8,000, and
//   saga:events only grows). Keyspace notifications are unused here, so the listener goes.
// The package declares Node >= 22; on Node 20 every command the project uses works (tested).

/** Thrown when the optional package is not installed. */
export class EmbeddedRedisUnavailable extends Error {}

export interface EmbeddedRedisOptions {
  /** Port on 127.0.0.1; when taken, any free port. Default: 0 (any free port) */
  port?: number
}

export interface EmbeddedRedis {
  readonly port: number
  /** redis://127.0.0.1:<port> (database 0). */
  readonly url: string
  /** The address the listening socket is bound to (undefined while stopped). */
  boundAddress(): string | undefined
  /** Closes every connection and the listening socket: clients see the server gone. */
  stop(): Promise<void>
  /** Listens again on the same port, with an empty keyspace (a restart without persistence). */
  start(): Promise<void>
}

interface Core {
  RedisServerState: new (options: { databaseCount: number; compatibility: unknown }) => { databases: { mutations: { globalListeners: Set<unknown> } }[]; close(): void }
  Resp2Server: new (options: { server: unknown; executor: unknown; logger?: unknown }) => { server: net.Server }
  createRedisCommandExecutor(options: { compatibility: unknown }): unknown
  resolveCompatibilityProfile(spec: unknown): unknown
}

async function loadCore(): Promise<Core> {
  try {
    // The package's low-level entry: the stock `createRedisServer` listens on every interface
    // and takes no host, so the server is assembled here and bound to loopback only.
    return (await import('js-redis-server/core')) as unknown as Core
  } catch {
    throw new EmbeddedRedisUnavailable('the optional package js-redis-server is not installed (npm install --include=optional)')
  }
}

/** Starts an embedded Redis-protocol server on 127.0.0.1 and resolves once it listens. */
export async function startEmbeddedRedis(options: EmbeddedRedisOptions = {}): Promise<EmbeddedRedis> {
  const core = await loadCore()
  let port = options.port ?? 0
  let current: { server: net.Server; sockets: Set<net.Socket>; state: { close(): void } } | undefined

  const listen = async (wanted: number) => {
    const profile = core.resolveCompatibilityProfile(undefined)
    const state = new core.RedisServerState({ databaseCount: 16, compatibility: profile })
    for (const database of state.databases) database.mutations.globalListeners.clear()
    const resp = new core.Resp2Server({ server: state, executor: core.createRedisCommandExecutor({ compatibility: profile }) })
    const sockets = new Set<net.Socket>()
    resp.server.prependListener('connection', (socket: net.Socket) => {
      socket.setNoDelay(true)
      sockets.add(socket)
      socket.once('close', () => sockets.delete(socket))
    })
    await new Promise<void>((resolve, reject) => {
      resp.server.once('error', reject)
      resp.server.listen({ host: '127.0.0.1', port: wanted, exclusive: true }, () => {
        resp.server.removeListener('error', reject)
        resolve()
      })
    })
    current = { server: resp.server, sockets, state }
    return (resp.server.address() as net.AddressInfo).port
  }

  try {
    port = await listen(port)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE' || port === 0) throw error
    port = await listen(0)
  }

  return {
    get port() { return port },
    get url() { return `redis://127.0.0.1:${port}` },
    boundAddress() { return current ? (current.server.address() as net.AddressInfo).address : undefined },
    async stop() {
      const stopping = current
      current = undefined
      if (!stopping) return
      for (const socket of stopping.sockets) socket.destroy()
      await new Promise<void>((resolve) => stopping.server.close(() => resolve()))
      stopping.state.close()
    },
    async start() {
      if (current) return
      await listenAgain(() => listen(port))
    },
  }
}
