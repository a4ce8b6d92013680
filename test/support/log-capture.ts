import { Writable } from 'node:stream'
import pino, { type Logger } from 'pino'
import { loggerOptions, type LoggerSettings } from '../../platform/logger.ts'

export interface CapturedLogs {
  /** A logger with the services' own options (redaction included), writing to memory. */
  logger: Logger
  /** Every line written so far, parsed. */
  lines(): Record<string, unknown>[]
  /** Every line written so far, exactly as it would have reached stdout. */
  text(): string
}

/**
 * Captures what a service logs: pino with the production options of platform/logger.ts
 * (level "trace" unless given), writing JSON lines to an in-memory stream.
 */
export function captureLogs(settings: Partial<LoggerSettings> = {}): CapturedLogs {
  const chunks: string[] = []
  const stream = new Writable({
    write(chunk, _encoding, done) {
      chunks.push(String(chunk))
      done()
    },
  })
  // pino writes synchronously to a plain Writable: a line is readable as soon as it is logged.
  const logger = pino(loggerOptions({ service: 'test', level: 'trace', ...settings }), stream)
  const text = () => chunks.join('')
  return {
    logger,
    text,
    lines: () => text().split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>),
  }
}
