import http from 'node:http'
import type net from 'node:net'

/**
 * An HTTP proxy in front of one participant that makes its link unreliable, the two ways a
 * network and a struggling service are: some requests are answered 503 at once and never
 * reach the service (it is overloaded), and some reach it and have their effect, but the
 * answer is lost on the way back (the connection drops after the service committed). The
 * orchestrator must retry the first kind and settle the second without doing it twice.
 */
export interface FaultProxyOptions {
  /** Base URL of the participant, e.g. http://127.0.0.1:41004 */
  target: string
  /** Share of requests answered 503 without being forwarded. Default: 0.1 */
  unavailable?: number
  /** Share of requests forwarded whose answer is then dropped (socket destroyed). Default: 0.05 */
  dropReply?: number
  /** Default: Math.random */
  random?: () => number
}

export interface FaultProxy {
  /** Base URL to give the orchestrator instead of the participant's. */
  readonly url: string
  /** What happened to the requests so far. */
  readonly counts: { forwarded: number; unavailable: number; dropped: number; upstreamErrors: number }
  /** Changes the fault rates from now on (0, 0 makes the link reliable). */
  setFaults(rates: { unavailable: number; dropReply: number }): void
  close(): Promise<void>
}

export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const target = new URL(options.target)
  const random = options.random ?? Math.random
  let rates = { unavailable: options.unavailable ?? 0.1, dropReply: options.dropReply ?? 0.05 }
  const counts = { forwarded: 0, unavailable: 0, dropped: 0, upstreamErrors: 0 }
  const sockets = new Set<net.Socket>()
  // Its own agent: the proxy's connections to the participant are not the test's.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 })

  const server = http.createServer((request, response) => {
    const roll = random()
    if (roll < rates.unavailable) {
      counts.unavailable++
      request.resume()
      request.once('end', () => {
        response.writeHead(503, { 'content-type': 'application/json', 'retry-after': '0' })
        response.end(JSON.stringify({ error: { code: 'SERVICE_UNAVAILABLE', message: 'injected by the fault proxy' } }))
      })
      return
    }
    const drop = roll < rates.unavailable + rates.dropReply
    const headers = { ...request.headers, host: target.host }
    const upstream = http.request({
      protocol: target.protocol, hostname: target.hostname, port: target.port, method: request.method, path: request.url, headers, agent,
    }, (answer) => {
      if (drop) {
        // Read the whole answer first: by then the participant has committed the effect.
        counts.dropped++
        answer.resume()
        answer.once('end', () => request.socket.destroy())
        return
      }
      counts.forwarded++
      response.writeHead(answer.statusCode ?? 502, answer.headers)
      answer.pipe(response)
    })
    upstream.once('error', () => {
      counts.upstreamErrors++
      // The participant itself is down: as a gateway would say so.
      if (!response.headersSent) response.writeHead(502, { 'content-type': 'application/json' })
      response.end(JSON.stringify({ error: { code: 'BAD_GATEWAY', message: 'the participant did not answer the fault proxy' } }))
    })
    request.pipe(upstream)
  })
  server.on('connection', (socket: net.Socket) => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as net.AddressInfo

  return {
    url: `http://127.0.0.1:${port}`,
    counts,
    setFaults(next) {
      rates = next
    },
    async close() {
      for (const socket of sockets) socket.destroy()
      agent.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
