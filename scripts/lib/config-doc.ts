import path from 'node:path'
import { settingsTable } from '../../platform/config.ts'

// The README's configuration table, generated from platform/config.ts.
export const README = path.resolve(import.meta.dirname, '../../README.md')
export const START = '<!-- config:start -->'
export const END = '<!-- config:end -->'

export function withSettingsTable(readme: string): string {
  const [before, rest] = readme.split(START)
  const after = rest?.split(END)[1]
  if (before === undefined || after === undefined) throw new Error(`README.md has no ${START} … ${END} block`)
  return `${before}${START}\n${settingsTable()}\n${END}${after}`
}
