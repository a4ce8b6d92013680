import type { FastifyInstance } from 'fastify'

/**
 * One log line per request, written once its answer is out: method, URL, status and time
 * taken (`responseTime`, ms), with the request's saga and trace ids like every line it logs.
 * Goes with the Fastify option `disableRequestLogging: true`, which drops Fastify's own pair
 * of lines ("incoming request" and "request completed"): half the log writes on a service
 * whose every command is a short request.
 */
export function installRequestLog(app: FastifyInstance): void {
  app.addHook('onResponse', async (request, reply) => {
    request.log.info({
      req: { method: request.method, url: request.url, remoteAddress: request.ip },
      res: { statusCode: reply.statusCode },
      responseTime: reply.elapsedTime,
    }, 'request completed')
  })
}
