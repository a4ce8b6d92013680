import { loadConfig } from '../../platform/config.ts'
import { startParticipant } from '../shared/server.ts'
import { buildHotel } from './hotel.app.ts'

const config = loadConfig()
await startParticipant('hotel', await buildHotel({ config }), config)
