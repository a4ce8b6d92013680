import { describe, expect, it } from 'vitest'
import { GroupCommit } from './group-commit.ts'

// Group commit: writes arriving while a batch commits go together in the next one; each
// waiter gets its own outcome; one key never appears twice in a batch.

function recorder(options: { maxConcurrent?: number } = {}) {
  const batches: string[][] = []
  let release: (() => void)[] = []
  const commit = new GroupCommit<string, string>(async (items) => {
    batches.push(items)
    await new Promise<void>((resolve) => release.push(resolve))
    return items.map((item) => (item.startsWith('bad') ? new Error(`refused ${item}`) : `ok ${item}`))
  }, (item) => item.split('#')[0]!, options)
  const releaseAll = () => { const now = release; release = []; now.forEach((r) => r()) }
  return { commit, batches, releaseAll }
}

describe('group commit', () => {
  it('sends a lone write at once, and the writes that arrive meanwhile together next', async () => {
    const { commit, batches, releaseAll } = recorder({ maxConcurrent: 1 })
    const first = commit.submit('a')
    expect(batches).toEqual([['a']])
    const later = ['b', 'c', 'd'].map((item) => commit.submit(item))
    expect(batches).toHaveLength(1)
    releaseAll()
    expect(await first).toBe('ok a')
    await new Promise((resolve) => setImmediate(resolve))
    expect(batches).toEqual([['a'], ['b', 'c', 'd']])
    releaseAll()
    expect(await Promise.all(later)).toEqual(['ok b', 'ok c', 'ok d'])
  })

  it('answers each waiter with its own outcome, and a failed batch to all of its waiters', async () => {
    const { commit, releaseAll } = recorder({ maxConcurrent: 1 })
    const results = [commit.submit('x'), commit.submit('bad-y'), commit.submit('z')]
    releaseAll()
    await new Promise((resolve) => setImmediate(resolve))
    releaseAll()
    expect(await results[0]).toBe('ok x')
    await expect(results[1]).rejects.toThrow('refused bad-y')
    expect(await results[2]).toBe('ok z')

    const failing = new GroupCommit<string, string>(async () => { throw new Error('connection lost') }, (item) => item)
    await expect(Promise.all([failing.submit('p'), failing.submit('q')])).rejects.toThrow('connection lost')
  })

  it('never puts two writes of one key in the same batch', async () => {
    const { commit, batches, releaseAll } = recorder({ maxConcurrent: 1 })
    const pending = [commit.submit('s1#1'), commit.submit('s1#2'), commit.submit('s2#1'), commit.submit('s1#3')]
    for (let round = 0; round < 4; round++) {
      releaseAll()
      await new Promise((resolve) => setImmediate(resolve))
    }
    await Promise.all(pending)
    expect(batches).toEqual([['s1#1'], ['s1#2', 's2#1'], ['s1#3']])
  })
})
