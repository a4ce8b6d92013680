import { readFileSync } from 'node:fs'
import path from 'node:path'
import type pg from 'pg'
import { findRestateServer, type RestateServer, startRestateServer } from './restate-server.ts'

// What `--peers` sets up before the engine section and stops after the run: DBOS's system
// database (dropped, so every run starts from an empty one, as the engine's run data is
// removed; DBOS creates and migrates it at its first launch) and a Restate server — or the
// reason Restate cannot run here, which the report gives instead of its figures.

const ROOT = path.resolve(import.meta.dirname, '../..')

export type PeerName = 'dbos' | 'restate'

export interface Peers {
  dbos: { databaseUrl: string; databaseName: string; sdk: string }
  restate?: RestateServer & { sdk: string; server: string; logFile: string }
  /** Peers that could not be measured, with what was tried and the error. */
  skipped: Partial<Record<PeerName, string>>
}

/** The version npm installed of a package (read from its package.json: not every package exports it). */
export function installedVersion(name: string): string {
  return (JSON.parse(readFileSync(path.join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version
}

/** DBOS's system database: the bench database's name with `_dbos`, on the same server. */
function dbosDatabase(benchUrl: string): { url: string; name: string } {
  const url = new URL(benchUrl)
  const name = `${decodeURIComponent(url.pathname.slice(1))}_dbos`
  url.pathname = `/${name}`
  return { url: url.toString(), name }
}

export async function startPeers(options: { databaseUrl: string; pg: pg.Client; resultsDir: string; log(line: string): void }): Promise<Peers> {
  const dbos = dbosDatabase(options.databaseUrl)
  options.log(`peers: DBOS Transact ${installedVersion('@dbos-inc/dbos-sdk')} on database ${dbos.name} (dropped; DBOS creates it)`)
  // FORCE: a worker of an interrupted run may still hold a connection.
  await options.pg.query(`DROP DATABASE IF EXISTS "${dbos.name.replace(/"/g, '""')}" WITH (FORCE)`)
  const peers: Peers = { dbos: { databaseUrl: dbos.url, databaseName: dbos.name, sdk: installedVersion('@dbos-inc/dbos-sdk') }, skipped: {} }

  const found = findRestateServer()
  if (!found.available) {
    peers.skipped.restate = `tried the binary of the installed npm package: ${found.reason}`
    options.log(`peers: Restate skipped: ${peers.skipped.restate}`)
    return peers
  }
  const logFile = path.join(options.resultsDir, 'restate-server.log')
  try {
    const server = await startRestateServer(found, path.join(options.resultsDir, 'restate-data'), logFile)
    peers.restate = { ...server, sdk: installedVersion('@restatedev/restate-sdk'), server: installedVersion('@restatedev/restate-server'), logFile }
    options.log(`peers: ${found.version} (ingress ${server.ingressUrl}), SDK ${peers.restate.sdk}`)
  } catch (error) {
    peers.skipped.restate = `started ${found.binary} (${found.version}): ${(error as Error).message}`
    options.log(`peers: Restate skipped: ${peers.skipped.restate}`)
  }
  return peers
}

export async function stopPeers(peers: Peers | undefined): Promise<void> {
  await peers?.restate?.stop()
}
