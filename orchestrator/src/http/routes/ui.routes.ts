import { readFileSync } from 'node:fs'
import path from 'node:path'
import type { FastifyInstance } from 'fastify'

const UI_DIR = path.resolve(import.meta.dirname, '../ui')
// Three small files that change only with a release: read once, served from memory
// (a static-file plugin would add a dependency for nothing).
const FILES: Record<string, { type: string; body: Buffer }> = {
  'index.html': { type: 'text/html; charset=utf-8', body: readFileSync(path.join(UI_DIR, 'index.html')) },
  'app.js': { type: 'text/javascript; charset=utf-8', body: readFileSync(path.join(UI_DIR, 'app.js')) },
  'app.css': { type: 'text/css; charset=utf-8', body: readFileSync(path.join(UI_DIR, 'app.css')) },
}

/** The support and operator page at /ui (it signs in with an API token; no session on the server). */
export default async function uiRoutes(app: FastifyInstance): Promise<void> {
  const serve = (name: string) => async (_request: unknown, reply: import('fastify').FastifyReply) =>
    reply.type(FILES[name]!.type).header('cache-control', 'no-cache').send(FILES[name]!.body)
  app.get('/ui', { schema: { hide: true } }, serve('index.html'))
  app.get('/ui/', { schema: { hide: true } }, serve('index.html'))
  app.get('/ui/app.js', { schema: { hide: true } }, serve('app.js'))
  app.get('/ui/app.css', { schema: { hide: true } }, serve('app.css'))
}
