import { type FastifyReply, type FastifyRequest, LogController } from 'fastify'

/**
 * Fastify's `logController`: one log line per request, written once its answer is out
 * (method, URL, status and time taken, `responseTime` in ms, with the request's saga and trace
 * ids like every line it logs), instead of Fastify's pair "incoming request" and "request
 * completed": half the log writes on a service whose every command is a short request.
 */
export class OneLinePerRequest extends LogController {
  override incomingRequest(): void {}

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (this.isLogDisabled(request)) return
    const line = {
      req: { method: request.method, url: request.url, remoteAddress: request.ip },
      res: { statusCode: reply.statusCode },
      responseTime: reply.elapsedTime,
    }
    if (error) reply.log.error({ ...line, err: error }, 'request errored')
    else reply.log.info(line, 'request completed')
  }
}
