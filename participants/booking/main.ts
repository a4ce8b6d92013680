import { startParticipant } from '../shared/server.ts'
import { buildBooking } from './booking.app.ts'

await startParticipant('booking', await buildBooking())
