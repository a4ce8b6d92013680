import http from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { HttpCommandClient } from './http-command-client.ts'

// The command client on its default adapter (undici's pool) against a real HTTP server: what
// goes out, what comes back, and every way the network fails, classified as axios' own adapter
// would (the nock tests in http-command-client.test.ts cover that one).

interface Seen { method: string; url: string; headers: http.IncomingHttpHeaders; body: string }
const seen: Seen[] = []
let base = ''
let server: http.Server

beforeAll(async () => {
  server = http.createServer((request, response) => {
    let body = ''
    request.setEncoding('utf8')
    request.on('data', (chunk) => { body += chunk })
    request.on('end', () => {
      seen.push({ method: request.method!, url: request.url!, headers: request.headers, body })
      if (request.url === '/slow') return void setTimeout(() => response.end('{}'), 1_000)
      if (request.url === '/drop') return void request.socket.destroy()
      if (request.url === '/busy') {
        response.writeHead(503, { 'content-type': 'application/json', 'retry-after': '2' })
        return void response.end('{"error":{"code":"SERVICE_UNAVAILABLE","message":"busy"}}')
      }
      response.writeHead(201, { 'content-type': 'application/json' })
      response.end(JSON.stringify({ received: JSON.parse(body || 'null') }))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterAll(async () => {
  server.closeAllConnections()
  await new Promise((resolve) => server.close(resolve))
})

const client = () => new HttpCommandClient({ baseUrls: { stub: base, down: 'http://127.0.0.1:9' }, token: 'tok-1' })
const meta = (timeoutMs = 2_000) => {
  const sagaId = randomUUID()
  return { idempotencyKey: `${sagaId}:step:forward`, sagaId, sagaType: 't', step: 'step', timeoutMs }
}

describe('the command client on undici', () => {
  it('sends the body as JSON with the key, the saga\'s headers and the service token, and reads the answer', async () => {
    const m = meta()
    const reply = await client().send({ participant: 'stub', method: 'POST', path: '/things?x=1', body: { spots: 2 } }, m)
    expect(reply).toEqual({ kind: 'answer', status: 201, body: { received: { spots: 2 } } })
    const request = seen.at(-1)!
    expect(request).toMatchObject({ method: 'POST', url: '/things?x=1', body: '{"spots":2}' })
    expect(request.headers).toMatchObject({ 'content-type': 'application/json', 'idempotency-key': m.idempotencyKey, 'x-saga-id': m.sagaId, authorization: 'Bearer tok-1' })
    expect(request.headers.traceparent).toMatch(new RegExp(`^00-${m.sagaId.replaceAll('-', '')}-[0-9a-f]{16}-01$`))
  })

  it('hands back an error status with its body and Retry-After, without throwing', async () => {
    expect(await client().send({ participant: 'stub', method: 'POST', path: '/busy' }, meta())).toEqual({
      kind: 'answer', status: 503, body: { error: { code: 'SERVICE_UNAVAILABLE', message: 'busy' } }, retryAfterMs: 2_000,
    })
  })

  it('has no answer after the step\'s timeout: TIMEOUT', async () => {
    const began = Date.now()
    expect(await client().send({ participant: 'stub', method: 'POST', path: '/slow' }, meta(150))).toEqual({
      kind: 'no-answer', error: { code: 'TIMEOUT', message: 'stub did not answer within 150 ms', participant: 'stub' },
    })
    expect(Date.now() - began).toBeLessThan(900)
  })

  it('has no answer from a refused connection or one dropped mid-request: NETWORK_ERROR', async () => {
    const refused = await client().send({ participant: 'down', method: 'POST', path: '/x' }, meta())
    expect(refused).toMatchObject({ kind: 'no-answer', error: { code: 'NETWORK_ERROR', participant: 'down', message: expect.stringContaining('ECONNREFUSED') } })
    expect(await client().send({ participant: 'stub', method: 'POST', path: '/drop' }, meta())).toMatchObject({ kind: 'no-answer', error: { code: 'NETWORK_ERROR', participant: 'stub' } })
  })

  it('fences a key on the same connection pool', async () => {
    const m = meta()
    await client().fence('stub', m)
    expect(seen.at(-1)).toMatchObject({ method: 'POST', url: `/api/idempotency-keys/${encodeURIComponent(m.idempotencyKey)}/fence`, body: '{}' })
  })

  it('keeps its connections open after a command (keep-alive, 10 s), and closes them on close()', async () => {
    const open = new Set<Socket>()
    const track = (socket: Socket) => {
      open.add(socket)
      socket.once('close', () => open.delete(socket))
    }
    server.on('connection', track)
    try {
      const own = client()
      await own.send({ participant: 'stub', method: 'POST', path: '/keep' }, meta())
      await new Promise((resolve) => setTimeout(resolve, 100))
      expect(open.size).toBeGreaterThan(0)
      await own.close()
      await expect.poll(() => open.size, { timeout: 5_000, interval: 20 }).toBe(0)
    } finally {
      server.off('connection', track)
    }
  })
})
