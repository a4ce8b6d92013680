import closeWithGrace from 'close-with-grace'
import { bindHost, servicePort } from '../../../platform/services.ts'
import { buildOrchestratorApp } from './app.ts'

// Boots the orchestrator: build, listen, renew leases, close cleanly on SIGINT/SIGTERM.
const app = await buildOrchestratorApp()
closeWithGrace({ delay: 15_000 }, async ({ err, signal }) => {
  if (err) app.log.error({ err }, 'shutting down after an error')
  else app.log.info({ signal }, 'shutting down')
  await app.close()
})
await app.listen({ port: servicePort('orchestrator'), host: bindHost() })
app.orchestrator.startBackgroundWork()
