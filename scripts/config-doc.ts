import { readFileSync, writeFileSync } from 'node:fs'
import { README, withSettingsTable } from './lib/config-doc.ts'

// `npm run config:doc`: writes the README's configuration table from platform/config.ts
// (platform/config.test.ts fails when the two disagree).
writeFileSync(README, withSettingsTable(readFileSync(README, 'utf8')))
console.log('README.md: configuration table written from platform/config.ts')
