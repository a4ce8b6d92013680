import { startParticipant } from '../shared/server.ts'
import { buildNotification } from './notification.app.ts'

await startParticipant('notification', await buildNotification())
