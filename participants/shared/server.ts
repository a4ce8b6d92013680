import closeWithGrace from 'close-with-grace'
import type { FastifyInstance } from 'fastify'
import type { Config } from '../../platform/config.ts'
import { servicePort } from '../../platform/service-addresses.ts'
import type { ParticipantName } from '../../platform/services.ts'

/**
 * Boots a built participant: listens on its port and closes cleanly on SIGINT/SIGTERM.
 * The only thing a participant's main.ts does.
 */
export async function startParticipant(name: ParticipantName, app: FastifyInstance, config: Config): Promise<void> {
  closeWithGrace({ delay: 10_000 }, async ({ err, signal }) => {
    if (err) app.log.error({ err }, 'shutting down after an error')
    else app.log.info({ signal }, 'shutting down')
    await app.close()
  })
  await app.listen({ port: servicePort(name, config), host: config.HOST })
}
