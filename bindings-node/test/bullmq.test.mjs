// The BullMQ example (examples/bullmq/worker.js) against a real Redis: EXPORT_CORE_REDIS_URL
// (redis://127.0.0.1:PORT), e.g. from `eval "$(scripts/redis-server.sh start)"`. Without it
// every test fails: a missing broker must not pass as a green run.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { createHash, randomUUID } from 'node:crypto'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const require = createRequire(import.meta.url)
const { Engine } = require('..')
const { Queue, QueueEvents } = require('bullmq')
const { startWorker, enqueue } = require('../examples/bullmq/worker.js')
const { parse } = require('csv-parse/sync')
const { buffer } = require('node:stream/consumers')

const REDIS_URL = process.env.EXPORT_CORE_REDIS_URL
const SAMPLE_ROWS = 200_000
const BATCH_ROWS = 8192 // the engine's batches: one progress report each
const REQUEST = {
  schema: 'trip',
  version: 'v2',
  audience: 'opendata',
  format: 'csv',
  period: { start: '2026-10-01', end: '2026-10-02' },
  // Three columns keep the file small; the rows are all there.
  fields: { include: ['journey_id', 'journey_start_datetime', 'journey_distance'] },
}
const ALICE = { userId: 'alice', organisation: 'acme', scopes: 'READ_EXPORTS,WRITE_EXPORTS' }
const dir = mkdtempSync(join(tmpdir(), 'export-core-bullmq-'))
const queueName = `export-core-test-${process.pid}-${randomUUID().slice(0, 8)}`

let engine
let connection
let queue
let events
let worker

before(async () => {
  assert.ok(
    REDIS_URL,
    'EXPORT_CORE_REDIS_URL is not set: start a Redis with `eval "$(scripts/redis-server.sh start)"` (from the repository root) and run the test again',
  )
  assert.match(REDIS_URL, /^rediss?:\/\//, 'EXPORT_CORE_REDIS_URL must be a redis:// URL')
  connection = { url: REDIS_URL, maxRetriesPerRequest: null, connectTimeout: 5000 }
  engine = new Engine({
    job_store: { url: `sqlite://${join(dir, 'jobs.db')}` },
    storage: { url: `file://${join(dir, 'files')}` },
    sources: { sample_rows: SAMPLE_ROWS },
    limits: { max_attempts: 1 },
  })
  queue = new Queue(queueName, { connection })
  events = new QueueEvents(queueName, { connection })
  await Promise.all([queue.waitUntilReady(), events.waitUntilReady()])
  worker = startWorker({ engine, connection, queueName })
  await worker.waitUntilReady()
})

after(async () => {
  await worker?.close()
  await events?.close()
  if (queue) {
    await queue.obliterate({ force: true }).catch(() => {})
    await queue.close()
  }
  rmSync(dir, { recursive: true, force: true })
})

/** The BullMQ 'progress' events of job `id`, as they come. */
function progressOf(id) {
  const seen = []
  const listener = ({ jobId, data }) => {
    if (jobId === id) seen.push(data)
  }
  events.on('progress', listener)
  return { seen, stop: () => events.off('progress', listener) }
}

test('an export job run by the worker: progress, completion, the file', async () => {
  const exportJob = await engine.create(ALICE, REQUEST)
  const progress = progressOf(exportJob.id)
  const job = await enqueue(queue, exportJob.id)
  assert.equal(job.id, exportJob.id)
  // The same export queued twice is one BullMQ job.
  assert.equal((await enqueue(queue, exportJob.id)).id, exportJob.id)

  const outcome = await job.waitUntilFinished(events, 40_000)
  progress.stop()
  assert.equal(outcome.status, 'succeeded', JSON.stringify(outcome))
  assert.equal(outcome.job_id, exportJob.id)
  assert.equal(await job.getState(), 'completed')

  // Progress: one report a batch, rows growing up to the sample's, out of the expected.
  const minReports = Math.floor(SAMPLE_ROWS / BATCH_ROWS) - 2
  assert.ok(progress.seen.length >= minReports, `${progress.seen.length} progress events: ${JSON.stringify(progress.seen)}`)
  for (const p of progress.seen) {
    assert.equal(typeof p.rows, 'number', `progress ${JSON.stringify(p)}`)
    assert.ok(p.rows > 0 && p.rows <= SAMPLE_ROWS, JSON.stringify(p))
    assert.ok(p.expected === null || p.expected >= p.rows, JSON.stringify(p))
  }
  const rows = progress.seen.map((p) => p.rows)
  assert.deepEqual(rows, [...rows].sort((a, b) => a - b), 'rows never go back')
  const final = await queue.getJob(exportJob.id)
  assert.ok(final.progress.rows > 0, JSON.stringify(final.progress))

  const status = await engine.status(ALICE, exportJob.id)
  assert.equal(status.status, 'succeeded')
  assert.equal(status.progress.rows_done, outcome.rows)

  const download = await engine.download(ALICE, exportJob.id)
  const bytes = await buffer(download)
  assert.equal(bytes.length, download.size)
  assert.equal(createHash('sha256').update(bytes).digest('hex'), download.sha256)
  const records = parse(bytes, { delimiter: ';' })
  assert.deepEqual(records[0], ['journey_id', 'journey_start_datetime', 'journey_distance'])
  assert.equal(records.length - 1, outcome.rows)
  assert.equal(download.rows, outcome.rows)
  assert.ok(outcome.rows > SAMPLE_ROWS / 2, `${outcome.rows} rows`)
  const ids = records.slice(1).map((r) => Number(r[0]))
  assert.ok(ids.every((id) => Number.isInteger(id) && id > 0))
  assert.equal(new Set(ids).size, ids.length, 'each trip once')
})

/**
 * An engine whose storage breaks once it is open (its directory replaced by a file: uploads
 * fail with IO), with a queue and a worker of its own; `repair()` puts the directory back.
 */
async function withBrokenStorage(engineConfig, workerOptions, fn) {
  const brokenDir = mkdtempSync(join(dir, 'broken-'))
  const files = join(brokenDir, 'files')
  const broken = new Engine({
    job_store: { url: `sqlite://${join(brokenDir, 'jobs.db')}` },
    storage: { url: `file://${files}` },
    sources: { sample_rows: 1000 },
    ...engineConfig,
  })
  rmSync(files, { recursive: true, force: true })
  writeFileSync(files, 'not a directory')
  const repair = () => {
    rmSync(files, { force: true })
    mkdirSync(files)
  }
  const name = `${queueName}-${randomUUID().slice(0, 8)}`
  const w = startWorker({ engine: broken, connection, queueName: name, ...workerOptions })
  const q = new Queue(name, { connection })
  const ev = new QueueEvents(name, { connection })
  try {
    await Promise.all([w.waitUntilReady(), q.waitUntilReady(), ev.waitUntilReady()])
    await fn({ engine: broken, queue: q, events: ev, repair })
  } finally {
    await w.close()
    await ev.close()
    await q.obliterate({ force: true }).catch(() => {})
    await q.close()
  }
}

test('an export that fails is a failed BullMQ job, not retried', async () => {
  // `max_attempts: 1`: the engine gives up at the first failure.
  await withBrokenStorage({ limits: { max_attempts: 1 } }, {}, async ({ engine: broken, queue: q, events: ev }) => {
    const exportJob = await broken.create(ALICE, REQUEST)
    const job = await enqueue(q, exportJob.id, { attempts: 3 })
    await assert.rejects(job.waitUntilFinished(ev, 20_000), (err) => {
      assert.match(err.message, new RegExp(`export job ${exportJob.id} failed: IO: `))
      return true
    })
    const failed = await q.getJob(exportJob.id)
    assert.equal(await failed.getState(), 'failed')
    assert.equal(failed.attemptsMade, 1, 'an unrecoverable failure is not retried')
    assert.equal((await broken.status(ALICE, exportJob.id)).status, 'failed')
  })
})

test('a transient failure the engine retries: the BullMQ job waits for the retry and completes', async () => {
  const engineConfig = { limits: { max_attempts: 3 }, worker: { retry_delay: '1s' } }
  await withBrokenStorage(engineConfig, { retryDelayMs: 1000 }, async ({ engine: broken, queue: q, events: ev, repair }) => {
    const exportJob = await broken.create(ALICE, REQUEST)
    const delayed = new Promise((resolve) => {
      const onDelayed = ({ jobId }) => {
        if (jobId !== exportJob.id) return
        ev.off('delayed', onDelayed)
        resolve()
      }
      ev.on('delayed', onDelayed)
    })
    const job = await enqueue(q, exportJob.id)
    await delayed
    const status = await broken.status(ALICE, exportJob.id)
    assert.equal(status.status, 'pending', 'the engine retries it')
    assert.equal(status.error.kind ?? status.error.code, 'IO')
    repair()
    const outcome = await job.waitUntilFinished(ev, 20_000)
    assert.equal(outcome.status, 'succeeded')
    const done = await q.getJob(exportJob.id)
    assert.equal(done.data.engineRetries, 1)
    const download = await broken.download(ALICE, exportJob.id)
    assert.equal(parse(await buffer(download), { delimiter: ';' }).length - 1, outcome.rows)
  })
})

test('a cancelled export is a failed BullMQ job', async () => {
  const exportJob = await engine.create(ALICE, REQUEST)
  const cancelled = await engine.cancel(ALICE, exportJob.id)
  assert.equal(cancelled.status, 'cancelled')
  const job = await enqueue(queue, exportJob.id, { attempts: 3 })
  await assert.rejects(job.waitUntilFinished(events, 20_000), /is not pending/)
  const failed = await queue.getJob(exportJob.id)
  assert.equal(await failed.getState(), 'failed')
  assert.equal(failed.attemptsMade, 1)
  assert.equal((await engine.status(ALICE, exportJob.id)).status, 'cancelled')

  // An id the engine does not know fails the same way.
  const ghost = await enqueue(queue, randomUUID())
  await assert.rejects(ghost.waitUntilFinished(events, 20_000), /does not exist/)
})

// The worker's progress relies on it (the addon hands its threadsafe functions' arguments over
// as one array; export-core.js spreads them).
test('engine.runOnce calls onProgress(jobId, rows, rowsExpected), as export-core.d.ts declares', async () => {
  const exportJob = await engine.create(ALICE, REQUEST)
  const calls = []
  await engine.runOnce({ jobId: exportJob.id, onProgress: (...args) => calls.push(args) })
  assert.ok(calls.length > 0)
  for (const args of calls) {
    assert.equal(args.length, 3, JSON.stringify(args))
    assert.equal(args[0], exportJob.id)
    assert.equal(typeof args[1], 'number')
  }
})
