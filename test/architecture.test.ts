import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'

// The house's boundaries, as rules on imports between folders (test files may cross them:
// a test wires real pieces together on purpose):
// - the engine imports nothing outside itself (no framework, no database, no platform);
// - the orchestrator never imports the participants, and the participants never import the
//   orchestrator: what both use lives in platform/;
// - platform/ imports neither of them;
// - the orchestrator's HTTP routes and CLI reach the store only through the application layer;
// - only platform/config.ts reads the process environment;
// - no files import each other in a loop (type imports count: a loop of types is a knot too).

const ROOT = path.resolve(import.meta.dirname, '..')

function sourceFiles(dir: string): string[] {
  return readdirSync(path.join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && /\.(ts|mjs|js)$/.test(entry.name) && !/\.test\.ts$|\.contract\.ts$/.test(entry.name))
    .map((entry) => path.relative(ROOT, path.join(entry.parentPath, entry.name)))
    .filter((file) => !file.includes('/ui/'))
}

/** Every relative import of a file, resolved to a path from the repository root. */
function importsOf(file: string): string[] {
  const text = readFileSync(path.join(ROOT, file), 'utf8')
  const specifiers = [...text.matchAll(/^\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]/gm), ...text.matchAll(/import\(\s*['"]([^'"]+)['"]\s*\)/g)].map((m) => m[1]!)
  return specifiers.filter((s) => s.startsWith('.')).map((s) => path.relative(ROOT, path.resolve(ROOT, path.dirname(file), s)))
}

/** Bare package imports of a file (fastify, pg, …), node: builtins excluded. */
function packagesOf(file: string): string[] {
  const text = readFileSync(path.join(ROOT, file), 'utf8')
  return [...text.matchAll(/^\s*import\s[^'"]*?from\s+['"]([^'"]+)['"]/gm)].map((m) => m[1]!).filter((s) => !s.startsWith('.') && !s.startsWith('node:'))
}

function violations(files: string[], forbidden: (target: string) => boolean): string[] {
  return files.flatMap((file) => importsOf(file).filter(forbidden).map((target) => `${file} → ${target}`))
}

const within = (dir: string) => (target: string) => target === dir || target.startsWith(`${dir}/`)

describe('architecture', () => {
  it('keeps the engine free of everything outside itself', () => {
    const engine = sourceFiles('orchestrator/src/engine')
    expect(engine.length).toBeGreaterThan(5)
    expect(violations(engine, (target) => !within('orchestrator/src/engine')(target))).toEqual([])
    expect(engine.flatMap((file) => packagesOf(file).map((pkg) => `${file} → ${pkg}`))).toEqual([])
  })

  it('never lets the orchestrator import the participants, or the participants the orchestrator', () => {
    expect(violations(sourceFiles('orchestrator'), within('participants'))).toEqual([])
    expect(violations(sourceFiles('participants'), within('orchestrator'))).toEqual([])
  })

  it('keeps platform/ below both', () => {
    const platform = sourceFiles('platform')
    expect(violations(platform, (target) => within('orchestrator')(target) || within('participants')(target) || within('scripts')(target) || within('test')(target))).toEqual([])
  })

  it('lets HTTP routes and the CLI reach storage only through the application layer', () => {
    const outer = [...sourceFiles('orchestrator/src/http'), ...sourceFiles('orchestrator/src/cli')]
    expect(violations(outer, within('orchestrator/src/persistence'))).toEqual([])
  })

  it('keeps persistence from leaning on the application layer', () => {
    expect(violations(sourceFiles('orchestrator/src/persistence'), within('orchestrator/src/application'))).toEqual([])
  })

  it('reads the process environment in one place only', () => {
    const readers = [...sourceFiles('orchestrator'), ...sourceFiles('participants'), ...sourceFiles('platform')]
      .filter((file) => file !== 'platform/config.ts' && /process\.env\b/.test(readFileSync(path.join(ROOT, file), 'utf8')))
    expect(readers).toEqual([])
  })

  it('has no import loops between files', () => {
    const files = ['orchestrator', 'participants', 'platform', 'scripts', 'bench'].flatMap(sourceFiles)
    const known = new Set(files)
    const edges = new Map(files.map((file) => [file, importsOf(file).filter((target) => known.has(target))]))
    expect(loopsIn(edges)).toEqual([])
    // The search finds a loop when there is one.
    expect(loopsIn(new Map([['a', ['b']], ['b', ['c']], ['c', ['a']], ['d', ['a']]]))).toEqual(['a → b → c → a'])
  })

  it('would see a violation: the rules read real imports', () => {
    // A self-check, so the rules above cannot pass by reading nothing.
    expect(importsOf('orchestrator/src/application/orchestrator.ts')).toContain('orchestrator/src/engine/saga-runner.ts')
    expect(packagesOf('orchestrator/src/http/app.ts')).toContain('fastify')
  })
})

/** One loop per strongly connected group of files (Tarjan), written from its first file round. */
function loopsIn(edges: Map<string, string[]>): string[] {
  const index = new Map<string, number>()
  const low = new Map<string, number>()
  const stack: string[] = []
  const onStack = new Set<string>()
  const loops: string[] = []
  const visit = (file: string) => {
    index.set(file, index.size)
    low.set(file, index.get(file)!)
    stack.push(file)
    onStack.add(file)
    for (const next of edges.get(file) ?? []) {
      if (!index.has(next)) {
        visit(next)
        low.set(file, Math.min(low.get(file)!, low.get(next)!))
      } else if (onStack.has(next)) low.set(file, Math.min(low.get(file)!, index.get(next)!))
    }
    if (low.get(file) !== index.get(file)) return
    const group: string[] = []
    for (let member = stack.pop()!; ; member = stack.pop()!) {
      onStack.delete(member)
      group.push(member)
      if (member === file) break
    }
    const self = (edges.get(file) ?? []).includes(file)
    if (group.length > 1 || self) loops.push(describeLoop(group, edges))
  }
  for (const file of [...edges.keys()].sort()) if (!index.has(file)) visit(file)
  return loops
}

/** A path round one loop of the group, from its first file by name, e.g. `a → b → a`. */
function describeLoop(group: string[], edges: Map<string, string[]>): string {
  const members = new Set(group)
  const start = [...group].sort()[0]!
  const path = [start]
  const seen = new Set([start])
  for (let at = start; ;) {
    const next = (edges.get(at) ?? []).filter((target) => members.has(target)).sort()
    const back = next.find((target) => target === start)
    if (back || !next.length) return [...path, start].join(' → ')
    at = next.find((target) => !seen.has(target)) ?? next[0]!
    if (seen.has(at)) return [...path, at].join(' → ')
    seen.add(at)
    path.push(at)
  }
}
