import { loadConfig } from '../../platform/config.ts'
import { startParticipant } from '../shared/server.ts'
import { buildLoyalty } from './loyalty.app.ts'

const config = loadConfig()
await startParticipant('loyalty', await buildLoyalty({ config }), config)
