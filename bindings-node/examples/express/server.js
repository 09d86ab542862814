#!/usr/bin/env node
// @ts-check
'use strict'
// Serves app.js with an engine and a background worker.
//
//   TOKENS_FILE=tokens.json PORT=8080 node examples/express/server.js
//
// Environment:
//   TOKENS_FILE          JSON object of bearer token to principal (required), e.g.
//                        {"s3cret": {"userId": "ada", "organisation": "acme", "scopes": "READ_EXPORTS,WRITE_EXPORTS"}}
//   PORT                 port to listen on (default 8080; 0 picks a free one)
//   HOST                 address to listen on (default 127.0.0.1)
//   EXPORT_CORE_CONFIG   the engine's configuration: a JSON object, or the path of a JSON/TOML file
//   EXPORT_CORE_DATA_DIR without EXPORT_CORE_CONFIG: the directory of the SQLite job store
//                        (jobs.db) and of the files (files/), default $TMPDIR/export-core-express
//   WORKER_INTERVAL_MS   pause between two worker runs (default 500)
//   SHUTDOWN_GRACE_MS    how long SIGTERM waits for open requests (default 10000)
//
// On SIGTERM (or SIGINT) it stops accepting connections, stops the worker (a running job is
// released: pending again, for the next start or another worker), lets open requests end for
// the grace period, then exits.

const { readFileSync, mkdirSync } = require('node:fs')
const { createServer } = require('node:http')
const { tmpdir } = require('node:os')
const { join, resolve } = require('node:path')
const { Engine } = require('../..')
const { createApp } = require('./app.js')

/** @typedef {import('./app.js').Logger} Logger */

/**
 * The engine's configuration from the environment.
 * @param {NodeJS.ProcessEnv} env
 * @returns {Record<string, unknown> | string}
 */
function engineConfig(env) {
  const raw = (env.EXPORT_CORE_CONFIG ?? '').trim()
  if (raw.startsWith('{')) return JSON.parse(raw)
  if (raw) return raw
  const dir = resolve(env.EXPORT_CORE_DATA_DIR || join(tmpdir(), 'export-core-express'))
  mkdirSync(dir, { recursive: true })
  return {
    job_store: { url: `sqlite://${join(dir, 'jobs.db')}` },
    storage: { url: `file://${join(dir, 'files')}` },
  }
}

/**
 * @param {string | undefined} value
 * @param {number} fallback
 * @param {string} name
 */
function intFromEnv(value, fallback, name) {
  if (value == null || value === '') return fallback
  if (!/^[0-9]+$/.test(value)) throw new Error(`${name} must be a non-negative integer, got \`${value}\``)
  return Number(value)
}

/**
 * Runs `engine.runUntilIdle()` every `intervalMs` (measured from the end of a run, so runs
 * never overlap) until `stop()`, which releases the running job and resolves once it has.
 * @param {{ engine: import('../..').Engine, intervalMs?: number, logger?: Logger }} options
 */
function startWorkerLoop({ engine, intervalMs = 500, logger = console }) {
  const controller = new AbortController()
  /** @type {NodeJS.Timeout | null} */
  let timer = null
  /** @type {Promise<void> | null} */
  let running = null
  let stopped = false

  const tick = () => {
    timer = null
    running = engine
      .runUntilIdle({ signal: controller.signal })
      .then(
        (outcomes) => {
          for (const o of outcomes) {
            const meta = { jobId: o.job_id, status: o.status, rows: o.rows, error: o.error }
            if (o.status === 'failed') logger.warn('export job failed', meta)
            else logger.info('export job ran', meta)
          }
        },
        // A store or storage failure: keep the loop alive, try again at the next tick.
        (err) => logger.error('export worker run failed', { error: String(err) }),
      )
      .finally(() => {
        running = null
        if (!stopped) timer = setTimeout(tick, intervalMs)
      })
  }
  timer = setTimeout(tick, 0)

  return {
    async stop() {
      stopped = true
      if (timer) clearTimeout(timer)
      controller.abort()
      await running
    },
  }
}

/** @param {NodeJS.ProcessEnv} env */
function loadTokens(env) {
  const file = env.TOKENS_FILE
  if (!file) throw new Error('TOKENS_FILE is not set: name a JSON file of bearer token to principal')
  const tokens = JSON.parse(readFileSync(file, 'utf8'))
  if (tokens == null || typeof tokens !== 'object' || Array.isArray(tokens)) {
    throw new Error(`TOKENS_FILE ${file}: expected a JSON object of token to principal`)
  }
  return tokens
}

/**
 * Starts the server; resolves once it listens, with a `close()` that does the SIGTERM steps.
 * @param {NodeJS.ProcessEnv} [env]
 * @param {Logger} [logger]
 */
async function main(env = process.env, logger = console) {
  const tokens = loadTokens(env)
  const port = intFromEnv(env.PORT, 8080, 'PORT')
  const host = env.HOST || '127.0.0.1'
  const grace = intFromEnv(env.SHUTDOWN_GRACE_MS, 10_000, 'SHUTDOWN_GRACE_MS')
  const engine = new Engine(engineConfig(env))
  const app = createApp({ engine, tokens, logger })
  const worker = startWorkerLoop({ engine, intervalMs: intFromEnv(env.WORKER_INTERVAL_MS, 500, 'WORKER_INTERVAL_MS'), logger })
  const server = createServer(app)
  // Slow or idle clients must not hold the process.
  server.headersTimeout = 20_000
  server.requestTimeout = 60_000
  await new Promise((resolveListen, rejectListen) => {
    server.once('error', rejectListen)
    server.listen(port, host, () => {
      server.off('error', rejectListen)
      resolveListen(undefined)
    })
  }).catch(async (err) => {
    await worker.stop()
    throw err
  })
  const address = server.address()
  const url = typeof address === 'object' && address ? `http://${host}:${address.port}` : String(address)
  logger.info(`listening on ${url}`)

  /** @type {Promise<void> | null} */
  let closing = null
  const close = () => {
    closing ??= (async () => {
      logger.info('shutting down')
      const closed = new Promise((resolveClose) => server.close(() => resolveClose(undefined)))
      server.closeIdleConnections()
      await worker.stop()
      const force = setTimeout(() => server.closeAllConnections(), grace)
      await closed
      clearTimeout(force)
      logger.info('stopped')
    })()
    return closing
  }
  return { server, url, close }
}

if (require.main === module) {
  main().then(
    ({ close }) => {
      const onSignal = (/** @type {string} */ signal) => {
        console.info(`${signal} received`)
        close().then(
          () => {
            process.exitCode = 0
          },
          (err) => {
            console.error('shutdown failed', err)
            process.exit(1)
          },
        )
      }
      process.once('SIGTERM', onSignal)
      process.once('SIGINT', onSignal)
    },
    (err) => {
      console.error(String(err && err.message ? err.message : err))
      process.exit(1)
    },
  )
}

module.exports = { main, startWorkerLoop, engineConfig }
