/**
 * Listens again on a port this process held a moment ago (a server stopped to simulate an
 * outage, then started): a TIME_WAIT or a racing bind delays that briefly, so EADDRINUSE is
 * retried every 100 ms for up to 5 s. Any other error goes through at once.
 */
export async function listenAgain<T>(listen: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await listen()
    } catch (error) {
      if (attempt >= 50 || (error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }
}
