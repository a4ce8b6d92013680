# One image for all seven services: each docker-compose service picks its entry point with
# `command`, e.g. `node_modules/.bin/tsx participants/booking/main.ts` (the default runs the
# orchestrator). tsx runs the TypeScript sources as they are, exactly as `npm start` does.
FROM node:20-slim

WORKDIR /app
ENV NPM_CONFIG_UPDATE_NOTIFIER=false \
    NPM_CONFIG_FUND=false \
    NPM_CONFIG_AUDIT=false

# Dependencies first, so that code changes reuse this layer. Runtime dependencies only:
# tsx and prisma are among them; the compiler, vitest, test helpers and the embedded
# PostgreSQL / Redis servers of `npm start` and `npm test` are not (production names its
# servers with DATABASE_URL and REDIS_URL).
COPY package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force

COPY . .
# The Prisma client is generated from prisma/schema into generated/prisma (not in git).
RUN node node_modules/tsx/dist/cli.mjs scripts/generate.ts

# The code stays owned by root and read-only to the user the services run as.
USER node
ENV HOST=0.0.0.0 \
    NODE_ENV=production
EXPOSE 3001 3002 3003 3004 3006 3007 3008
CMD ["node_modules/.bin/tsx", "orchestrator/src/http/server.ts"]
