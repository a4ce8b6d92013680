import { loadConfig } from '../../platform/config.ts'
import { startParticipant } from '../shared/server.ts'
import { buildNotification } from './notification.app.ts'

const config = loadConfig()
await startParticipant('notification', await buildNotification({ config }), config)
