import closeWithGrace from 'close-with-grace'
import { loadConfig } from '../../../platform/config.ts'
import { servicePort } from '../../../platform/service-addresses.ts'
import { buildOrchestratorApp } from './app.ts'

// Boots the orchestrator: build, listen, renew leases, close cleanly on SIGINT/SIGTERM.
const config = loadConfig()
const app = await buildOrchestratorApp({ config })
closeWithGrace({ delay: 15_000 }, async ({ err, signal }) => {
  if (err) app.log.error({ err }, 'shutting down after an error')
  else app.log.info({ signal }, 'shutting down')
  await app.close()
})
await app.listen({ port: servicePort('orchestrator', config), host: config.HOST })
app.orchestrator.startBackgroundWork()
