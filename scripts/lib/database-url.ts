export { databaseUrl, redisUrl, DEFAULT_DATABASE_URL, DEFAULT_REDIS_URL } from '../../platform/config.ts'
