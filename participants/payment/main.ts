import { loadConfig } from '../../platform/config.ts'
import { startParticipant } from '../shared/server.ts'
import { buildPayment } from './payment.app.ts'

const config = loadConfig()
await startParticipant('payment', await buildPayment({ config }), config)
