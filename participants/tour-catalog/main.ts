import { startParticipant } from '../shared/server.ts'
import { buildTourCatalog } from './tour-catalog.app.ts'

await startParticipant('tour-catalog', await buildTourCatalog())
