import { runSagaCli } from './saga-cli.ts'

process.exitCode = await runSagaCli(process.argv.slice(2))
