import { parseArgs } from 'node:util'
import { type ChaosPlan, describeChaos, FULL_PLAN, runChaos } from '../test/e2e/support/chaos.ts'

// `npm run chaos [-- --sagas N --kills K --postgres embedded|proxy]`: the full-size chaos run
// (1,000 tour bookings at concurrency 20; 5 orchestrator kills, a 10 s PostgreSQL restart, 30 s
// without Redis, a payment link that answers 10 % 503 and drops 5 % of replies). Every server
// it disturbs is its own. Prints the figures; exit code 1 when an invariant broke.
const { values } = parseArgs({
  options: { sagas: { type: 'string' }, kills: { type: 'string' }, postgres: { type: 'string' } },
})
const plan: ChaosPlan = {
  ...FULL_PLAN,
  ...(values.sagas ? { sagas: Number(values.sagas) } : {}),
  ...(values.kills ? { orchestratorKills: Number(values.kills) } : {}),
  ...(values.postgres === 'embedded' || values.postgres === 'proxy' ? { postgres: values.postgres } : {}),
  log: (line) => console.log(`[chaos] ${line}`),
}
const report = await runChaos(plan)
for (const line of describeChaos(report)) console.log(line)
for (const violation of report.violations.slice(0, 50)) console.error(`[chaos] VIOLATION ${violation}`)
if (report.violations.length > 50) console.error(`[chaos] … and ${report.violations.length - 50} more`)
process.exit(report.violations.length ? 1 : 0)
