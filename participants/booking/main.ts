import { loadConfig } from '../../platform/config.ts'
import { startParticipant } from '../shared/server.ts'
import { buildBooking } from './booking.app.ts'

const config = loadConfig()
await startParticipant('booking', await buildBooking({ config }), config)
