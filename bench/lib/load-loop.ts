/**
 * Runs `runOne` from `concurrency` loops (a closed system: each loop starts its next call when
 * the previous one ends) until `more()` says stop; reports each latency or failure.
 */
export async function runConcurrently(
  concurrency: number,
  more: () => boolean,
  runOne: (n: number) => Promise<void>,
  record: (ms: number) => void,
  fail: (error: unknown) => void,
): Promise<void> {
  let n = 0
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (more()) {
      const began = performance.now()
      try {
        await runOne(n++)
        record(performance.now() - began)
      } catch (error) {
        fail(error)
      }
    }
  }))
}
