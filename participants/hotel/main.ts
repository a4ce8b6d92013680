import { startParticipant } from '../shared/server.ts'
import { buildHotel } from './hotel.app.ts'

await startParticipant('hotel', await buildHotel())
