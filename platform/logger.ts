import pino, { type Logger, type LoggerOptions } from 'pino'
import pretty from 'pino-pretty'
import { loadConfig } from './config.ts'

/**
 * Paths pino replaces with "[Redacted]" on every line of every service: bearer tokens,
 * payment-method ids and anything that looks like card data.
 */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'authorization',
  'token',
  '*.token',
  'paymentMethod',
  '*.paymentMethod',
  '*.*.paymentMethod',
  'payment_method',
  '*.payment_method',
  'card',
  '*.card',
  '*.*.card',
  'cardNumber',
  '*.cardNumber',
  'cvc',
  '*.cvc',
  'apiKey',
  '*.apiKey',
  'secretKey',
  '*.secretKey',
]

export interface LoggerSettings {
  /** Service name on every line. */
  service: string
  /** Default: `LOG_LEVEL` (info; the test configuration sets silent). */
  level?: string
  /**
   * `LOG_FORMAT`: "json" or "pretty". Default: pretty when stdout is a terminal, JSON otherwise
   * (`npm start` asks its children for JSON and prettifies the merged stream itself).
   */
  format?: 'json' | 'pretty'
}

export function loggerOptions(settings: LoggerSettings): LoggerOptions {
  return {
    level: settings.level ?? loadConfig().LOG_LEVEL ?? 'info',
    base: { service: settings.service, pid: process.pid },
    redact: { paths: REDACT_PATHS, censor: '[Redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  }
}

export function logFormat(settings: Pick<LoggerSettings, 'format'> = {}): 'json' | 'pretty' {
  const configured = settings.format ?? loadConfig().LOG_FORMAT
  if (configured === 'json' || configured === 'pretty') return configured
  return process.stdout.isTTY ? 'pretty' : 'json'
}

export function createLogger(settings: LoggerSettings): Logger {
  const options = loggerOptions(settings)
  if (logFormat(settings) === 'pretty') {
    return pino(options, pretty({ colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' }))
  }
  return pino(options)
}
