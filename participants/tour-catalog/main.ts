import { loadConfig } from '../../platform/config.ts'
import { startParticipant } from '../shared/server.ts'
import { buildTourCatalog } from './tour-catalog.app.ts'

const config = loadConfig()
await startParticipant('tour-catalog', await buildTourCatalog({ config }), config)
