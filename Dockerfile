# One image for all seven services: each docker-compose service picks its entry point with
# `command`, e.g. `node dist/participants/booking/main.js` (the default runs the orchestrator).
# The services run from the compiled build (`npm run build`: plain JavaScript under dist/, no
# tsx at run time), as `npm start` runs them with NODE_ENV=production.

# Build stage: every dependency (the compiler among them), the Prisma client, the build.
FROM node:20-slim AS build
WORKDIR /app
ENV NPM_CONFIG_UPDATE_NOTIFIER=false \
    NPM_CONFIG_FUND=false \
    NPM_CONFIG_AUDIT=false
COPY package.json package-lock.json ./
RUN npm ci
COPY . .
# The Prisma client is generated from prisma/schema into generated/prisma (not in git).
RUN node node_modules/tsx/dist/cli.mjs scripts/generate.ts \
 && node node_modules/tsx/dist/cli.mjs scripts/build.ts

# Run stage. Dependencies first, so that code changes reuse this layer. Runtime dependencies
# only: tsx and prisma are among them (the migrate service runs the migration and seed
# scripts); the compiler, vitest, test helpers and the embedded PostgreSQL / Redis servers of
# `npm start` and `npm test` are not (production names its servers with DATABASE_URL and
# REDIS_URL).
FROM node:20-slim
WORKDIR /app
ENV NPM_CONFIG_UPDATE_NOTIFIER=false \
    NPM_CONFIG_FUND=false \
    NPM_CONFIG_AUDIT=false
COPY package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force
COPY . .
COPY --from=build /app/generated ./generated
COPY --from=build /app/dist ./dist

# The code stays owned by root and read-only to the user the services run as.
USER node
ENV HOST=0.0.0.0 \
    NODE_ENV=production
EXPOSE 3001 3002 3003 3004 3006 3007 3008 3009
CMD ["node", "dist/orchestrator/src/http/server.js"]
