// First step of `npm start` / `npm test` on a fresh clone: install dependencies when they are
// missing or older than package-lock.json, then generate the Prisma client when it is missing
// or older than the schema. Plain JS so that it runs before anything is installed.
import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync, statSync } from 'node:fs'
import path from 'node:path'

const root = path.resolve(import.meta.dirname, '..')
const mtime = (file) => (existsSync(file) ? statSync(file).mtimeMs : 0)
const run = (cmd, args, env = {}) =>
  execFileSync(cmd, args, { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } })

const installed = path.join(root, 'node_modules/.package-lock.json')
if (!existsSync(installed) || mtime(installed) < mtime(path.join(root, 'package-lock.json'))) {
  console.log('Installing dependencies (npm ci)…')
  run('npm', ['ci', '--no-audit', '--no-fund'])
}

const schemaDir = path.join(root, 'prisma/schema')
const newestSchema = Math.max(...readdirSync(schemaDir).map((name) => mtime(path.join(schemaDir, name))))
const client = path.join(root, 'generated/prisma/client.ts')
if (mtime(client) < newestSchema) {
  console.log('Generating the Prisma client…')
  run(process.execPath, [path.join(root, 'node_modules/tsx/dist/cli.mjs'), path.join(root, 'scripts/generate.ts')])
}
