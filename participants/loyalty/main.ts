import { startParticipant } from '../shared/server.ts'
import { buildLoyalty } from './loyalty.app.ts'

await startParticipant('loyalty', await buildLoyalty())
