import { execFile } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { promisify } from 'node:util'
import { afterEach, describe, expect, it } from 'vitest'
import { buildIsCurrent, DIST, ensureBuild, sourceDigest } from './build.ts'

// Whether dist/ may run is decided by what it was built from, not by file times: a checkout,
// a copy or an edit undone leaves times that say nothing.

const roots: string[] = []
afterEach(() => { for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true }) })

function project(): string {
  const root = mkdtempSync(path.join(tmpdir(), 'build-digest-'))
  roots.push(root)
  for (const dir of ['orchestrator/src', 'participants/booking', 'platform', 'dist']) mkdirSync(path.join(root, dir), { recursive: true })
  writeFileSync(path.join(root, 'orchestrator/src/engine.ts'), 'export const a = 1\n')
  writeFileSync(path.join(root, 'participants/booking/main.ts'), 'export const b = 2\n')
  writeFileSync(path.join(root, 'tsconfig.json'), '{}\n')
  return root
}

const stamp = (root: string, sources: string) => writeFileSync(path.join(root, 'dist/build.json'), JSON.stringify({ sources }))

describe('the compiled build', () => {
  it('is current only when stamped with the digest of the sources there are now', () => {
    const root = project()
    expect(buildIsCurrent(root)).toBe(false)
    stamp(root, sourceDigest(root))
    expect(buildIsCurrent(root)).toBe(true)
  })

  it('is stale after a source is edited, added or removed, or the compiler options change', () => {
    const root = project()
    const edits = [
      () => writeFileSync(path.join(root, 'orchestrator/src/engine.ts'), 'export const a = 2\n'),
      () => writeFileSync(path.join(root, 'platform/new.ts'), 'export {}\n'),
      () => rmSync(path.join(root, 'participants/booking/main.ts')),
      () => writeFileSync(path.join(root, 'tsconfig.json'), '{ "compilerOptions": {} }\n'),
    ]
    for (const edit of edits) {
      stamp(root, sourceDigest(root))
      edit()
      expect(buildIsCurrent(root)).toBe(false)
    }
  })

  it('does not count what the build writes or files outside what it compiles', () => {
    const root = project()
    stamp(root, sourceDigest(root))
    writeFileSync(path.join(root, 'dist/extra.js'), '')
    mkdirSync(path.join(root, 'bench'))
    writeFileSync(path.join(root, 'bench/run.ts'), '')
    expect(buildIsCurrent(root)).toBe(true)
  })

  it('is stale when its stamp is not one', () => {
    const root = project()
    writeFileSync(path.join(root, 'dist/build.json'), 'not json')
    expect(buildIsCurrent(root)).toBe(false)
  })
})

describe('building on demand', () => {
  it('builds once when several processes find the build stale at the same time; the others wait and use it', async () => {
    ensureBuild()
    writeFileSync(path.join(DIST, 'build.json'), JSON.stringify({ sources: 'built from other sources' }))
    const dir = mkdtempSync(path.join(tmpdir(), 'build-race-'))
    roots.push(dir)
    const script = path.join(dir, 'ensure.mts')
    writeFileSync(script, `import { ensureBuild } from ${JSON.stringify(pathToFileURL(path.join(import.meta.dirname, 'build.ts')).href)}\nensureBuild((line) => console.log(line))\n`)

    const runs = await Promise.all([1, 2, 3].map(() => promisify(execFile)(process.execPath, ['--import', 'tsx', script], { cwd: path.resolve(import.meta.dirname, '../..') })))

    expect(runs.filter(({ stdout }) => stdout.includes('rebuilding'))).toHaveLength(1)
    expect(buildIsCurrent()).toBe(true)
  }, 90_000)
})
