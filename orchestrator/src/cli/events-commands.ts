import { once } from 'node:events'
import type { Command } from 'commander'
import type { Config } from '../../../platform/config.ts'
import { type DeadLetter, listDeadLetters, replayDeadLetters } from '../../../platform/events/dead-letters.ts'
import { type Redis, redisFromConfig } from '../../../platform/redis.ts'

export interface EventCommandOptions {
  config: Pick<Config, 'REDIS_URL'>
  out: (line: string) => void
  err: (line: string) => void
  /** Sets the CLI's exit code (3: nothing matched, 1: Redis unreachable). */
  exit: (code: number) => void
}

/**
 * `events dead` and `events replay <eventId|--all>`: the dead letters of the domain events
 * (messages a consumer failed on EVENT_MAX_DELIVERIES times, in the Redis stream events:dead),
 * and their way back to events:domain once the consumer is fixed.
 */
export function addEventCommands(program: Command, options: EventCommandOptions): Command {
  const events = program.command('events').description('Domain events: dead letters and their replay')

  events.command('dead')
    .description('List the dead letters, oldest first')
    .option('--limit <n>', 'at most this many', (value) => Math.max(1, Number.parseInt(value, 10) || 1), 1000)
    .option('--json', 'one JSON object per line')
    .action(async (flags: { limit: number; json?: boolean }) => {
      await withRedis(options, async (redis) => {
        const letters = await listDeadLetters(redis, flags.limit)
        for (const letter of letters) options.out(flags.json ? JSON.stringify(letter) : describe(letter))
        if (!flags.json) options.out(`${letters.length} dead letter(s)${letters.length ? ' (replay: npm run saga -- events replay <eventId> | --all)' : ''}`)
      })
    })

  events.command('replay')
    .description('Publish dead letters again to events:domain (same eventId) and remove them from events:dead')
    .argument('[eventId]', 'the event to replay')
    .option('--all', 'every dead letter')
    .action(async (eventId: string | undefined, flags: { all?: boolean }) => {
      if (!eventId === !flags.all) {
        options.err('error: give an eventId or --all (not both)')
        options.exit(2)
        return
      }
      await withRedis(options, async (redis) => {
        const replayed = await replayDeadLetters(redis, flags.all ? 'all' : eventId!)
        for (const letter of replayed) options.out(`replayed ${describe(letter)}`)
        const events = new Set(replayed.map((letter) => letter.eventId ?? letter.id)).size
        options.out(`Replayed ${events} event(s) (${replayed.length} dead letter(s) removed)`)
        if (!flags.all && !replayed.length) {
          options.err(`no dead letter for event ${eventId}`)
          options.exit(3)
        }
      })
    })
  return events
}

function describe(letter: DeadLetter): string {
  return `${letter.eventId ?? '(not an event)'} ${letter.eventType ?? ''} consumer ${letter.consumer}, ${letter.deliveries} deliveries, dead since ${letter.deadAt}: ${letter.error}`
}

/** A Redis client for one command, ready or refused within 3 s, always closed. */
async function withRedis(options: EventCommandOptions, work: (redis: Redis) => Promise<void>): Promise<void> {
  const redis = redisFromConfig(options.config)
  if (!redis) {
    options.err('REDIS_URL is disabled: there are no event streams')
    options.exit(1)
    return
  }
  redis.on('error', () => {})
  try {
    const ready = await Promise.race([once(redis, 'ready').then(() => true), new Promise<false>((resolve) => setTimeout(() => resolve(false), 3_000).unref())])
    if (!ready) {
      options.err('Redis is unreachable (REDIS_URL)')
      options.exit(1)
      return
    }
    await work(redis)
  } finally {
    redis.disconnect()
  }
}
