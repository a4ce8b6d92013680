import { loadConfig } from '../../platform/config.ts'
import { startParticipant } from '../shared/server.ts'
import { buildAnalytics } from './analytics.app.ts'

const config = loadConfig()
await startParticipant('analytics', await buildAnalytics({ config }), config)
