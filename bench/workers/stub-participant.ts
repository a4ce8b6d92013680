import http from 'node:http'

// The engine benchmark's participant: answers every request 200 `{}` as soon as its body has
// been read, over keep-alive connections. Raw node:http, so its own cost stays near zero and
// what the benchmark sees is the caller's. Runs as its own process (its CPU is measured
// apart); tells its parent its port over IPC and stops when the parent says so or goes away.

const server = http.createServer((request, response) => {
  request.resume()
  request.on('end', () => {
    response.writeHead(200, { 'content-type': 'application/json', 'content-length': '2' })
    response.end('{}')
  })
})
server.keepAliveTimeout = 60_000
server.listen(0, '127.0.0.1', () => {
  const address = server.address()
  process.send?.({ type: 'listening', port: typeof address === 'object' && address ? address.port : 0 })
})
process.on('message', (message: { type?: string }) => {
  if (message?.type !== 'stop') return
  server.close(() => process.exit(0))
  server.closeAllConnections()
})
process.on('disconnect', () => process.exit(0))
