import { startParticipant } from '../shared/server.ts'
import { buildPayment } from './payment.app.ts'

await startParticipant('payment', await buildPayment())
