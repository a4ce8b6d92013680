import { randomUUID } from 'node:crypto'
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { seedDemoData } from '../scripts/lib/seed.ts'
import { startSystem, type TestSystem } from './support/system.ts'

const run = promisify(execFile)
const README = readFileSync(path.resolve(import.meta.dirname, '../README.md'), 'utf8')

/** The shell block between the readme-example markers. */
function readmeExample(): string {
  const section = README.split('<!-- readme-example:start -->')[1]?.split('<!-- readme-example:end -->')[0]
  const script = section?.match(/```sh\n([\s\S]*?)```/)?.[1]
  if (!script) throw new Error('README.md has no readme-example block')
  return script
}

describe("the README's curl example", () => {
  let system: TestSystem
  let base: string

  beforeAll(async () => {
    system = await startSystem()
    await seedDemoData(system.db)
    base = await system.orchestrator.listen({ port: 0, host: '127.0.0.1' })
  })
  afterAll(async () => {
    await system?.close()
  })

  it('books a seeded tour as a client and as the end user, and shows each what it may see', async () => {
    // Fresh keys per run: the test database keeps the sagas of earlier runs, and a key used again
    // answers the saga it named then.
    const fresh = randomUUID().slice(0, 8)
    const script = readmeExample().replaceAll('http://127.0.0.1:3007', base).replaceAll('readme-example-', `readme-example-${fresh}-`)
    const { stdout, stderr } = await run('bash', ['-euo', 'pipefail', '-c', script], { timeout: 50_000 })
    const booking = JSON.parse(stderr.trim().split('\n').at(-1)!)
    expect(booking).toMatchObject({ status: 'COMPLETED', currency: 'EUR', totalPrice: 98 })
    // One JSON document per line: the saga as its client reads it, alice's booking, alice's list.
    const [saga, own, list] = stdout.trim().split('\n').map((line) => JSON.parse(line))
    expect(saga).toMatchObject({ sagaId: booking.sagaId, type: 'tour-booking', status: 'COMPLETED' })
    expect(saga.steps.length).toBeGreaterThanOrEqual(5)
    expect(own).toMatchObject({ status: 'COMPLETED', currency: 'EUR', totalPrice: 49 })
    const listed = list.items.map((item: { sagaId: string }) => item.sagaId)
    expect(listed).toEqual(expect.arrayContaining([booking.sagaId, own.sagaId]))
    expect(list.items.every((item: { userId: string }) => item.userId === 'alice')).toBe(true)
  }, 60_000)
})
