// The Engine from Node: the job API under scopes and ownership, workers fed by a JS function,
// downloads as Readables, platforms, schedules, retention.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { buffer } from 'node:stream/consumers'
import { parse } from 'csv-parse/sync'

const require = createRequire(import.meta.url)
const { Engine, sampleTrips } = require('..')

const PERIOD = { start: '2026-10-01T00:00:00+02:00', end: '2026-10-02T00:00:00+02:00' }
const V2_CSV = { schema: 'trip', version: 'v2', audience: 'opendata', format: 'csv', period: PERIOD }
const owner = { userId: 'u-1', organisation: 'org-1' }

function config(rows = 2000) {
  const dir = mkdtempSync(join(tmpdir(), 'export-core-engine-'))
  return {
    job_store: { url: `sqlite://${join(dir, 'jobs.db')}` },
    storage: { url: `file://${join(dir, 'files')}` },
    sources: { sample_rows: rows },
  }
}

test('the whole lifecycle: create, status, list, run with progress, download, delete', async () => {
  const engine = new Engine(config())
  const job = await engine.create(owner, V2_CSV)
  assert.equal(job.status, 'pending')
  assert.equal(job.owner.user_id, 'u-1')
  assert.equal((await engine.status(owner, job.id)).status, 'pending')
  assert.deepEqual((await engine.list(owner)).jobs.map((j) => j.id), [job.id])

  const seen = []
  const outcome = await engine.runOnce({ onProgress: (id, rows) => seen.push([id, rows]) })
  assert.equal(outcome.status, 'succeeded')
  assert.equal(outcome.job_id, job.id)
  assert.equal(await engine.runOnce(), null)
  await new Promise((resolve) => setTimeout(resolve, 20))
  assert.ok(seen.length > 0 && seen.every(([id]) => id === job.id))

  const status = await engine.status(owner, job.id)
  assert.equal(status.status, 'succeeded')
  assert.equal(status.progress.rows_done, outcome.rows)

  const download = await engine.download(owner, job.id)
  assert.match(download.fileName, /\.csv$/)
  assert.match(download.contentType, /^text\/csv/)
  const body = await buffer(download)
  assert.equal(body.length, download.size)
  const rows = parse(body, { delimiter: ';', bom: true })
  assert.equal(rows.length - 1, download.rows)
  assert.equal(download.rows, outcome.rows)

  await engine.delete(owner, job.id)
  await assert.rejects(engine.get(owner, job.id), { code: 'EXPORT_NOT_FOUND' })
})

test('another user or organisation sees nothing; each action needs its scope', async () => {
  const engine = new Engine(config())
  const job = await engine.create(owner, V2_CSV)
  await engine.runOnce()
  for (const other of [{ userId: 'u-2', organisation: 'org-1' }, { userId: 'u-1', organisation: 'org-2' }, { userId: 'u-3' }]) {
    assert.deepEqual((await engine.list(other)).jobs, [])
    for (const call of ['get', 'status', 'download', 'cancel', 'delete']) {
      await assert.rejects(engine[call](other, job.id), { code: 'EXPORT_NOT_FOUND' }, call)
    }
  }
  assert.equal((await engine.get(owner, job.id)).status, 'succeeded')
  const reader = { userId: 'u-1', organisation: 'org-1', scopes: 'READ_EXPORTS' }
  await assert.rejects(engine.create(reader, V2_CSV), { code: 'EXPORT_FORBIDDEN', message: /export\.create/ })
  await assert.rejects(engine.list({ ...owner, scopes: ['export.create'] }), { code: 'EXPORT_FORBIDDEN' })
  await assert.rejects(engine.list({ ...owner, scopes: ['export.nope'] }), { code: 'EXPORT_INVALID_REQUEST', message: /export\.nope/ })
  await assert.rejects(engine.list({ userId: 'u-1', organisaton: 'org-1' }), { code: 'EXPORT_INVALID_REQUEST', message: /organisaton/ })
  await assert.rejects(engine.list({ userId: '' }), { code: 'EXPORT_INVALID_REQUEST', message: /userId/ })
})

test('bad requests create nothing and name what was wrong', async () => {
  const engine = new Engine(config())
  for (const [request, named] of [
    [{ ...V2_CSV, verison: 'v2' }, 'verison'],
    [{ ...V2_CSV, audience: 'everyone' }, 'everyone'],
    [{ ...V2_CSV, format: 'pdf' }, 'pdf'],
    [{ ...V2_CSV, period: { start: '2026-10-02', end: '2026-10-01' } }, 'start'],
    [{ ...V2_CSV, options: { bmo: true } }, 'bmo'],
  ]) {
    await assert.rejects(engine.create(owner, request), (err) => err.code.startsWith('EXPORT_INVALID') && err.message.includes(named))
  }
  assert.deepEqual((await engine.list(owner)).jobs, [])
  await assert.rejects(engine.get(owner, 'not-an-id'), { code: 'EXPORT_NOT_FOUND' })
  await assert.rejects(engine.list(owner, { limt: 3 }), { code: 'EXPORT_INVALID_REQUEST', message: /limt/ })
  assert.throws(() => new Engine({ job_stor: {} }), { code: 'EXPORT_CONFIG' })
  assert.throws(() => new Engine(42), { code: 'EXPORT_INVALID_REQUEST', message: /config/ })
})

test('a config file path; cancel a pending job; download of an unfinished job is a conflict', async () => {
  const path = join(mkdtempSync(join(tmpdir(), 'export-core-cfg-')), 'engine.json')
  writeFileSync(path, JSON.stringify(config()))
  const engine = new Engine(path)
  const job = await engine.create(owner, V2_CSV)
  await assert.rejects(engine.download(owner, job.id), { code: 'EXPORT_INVALID_STATE' })
  assert.equal((await engine.cancel(owner, job.id)).status, 'cancelled')
  assert.equal(await engine.runOnce(), null)
})

test('a worker exports what the host\'s data function returns (Arrow IPC bytes of the trip input schema)', async () => {
  const engine = new Engine(config())
  const trips = await sampleTrips({ start: '2026-10-01', end: '2026-10-02', rows: 500, seed: 7 })
  const requests = []
  const job = await engine.create(owner, V2_CSV)
  const outcome = await engine.runOnce({
    data: async (request) => {
      requests.push(request)
      return trips
    },
  })
  assert.equal(outcome.status, 'succeeded', JSON.stringify(outcome))
  assert.equal(requests[0].audience, 'opendata')
  assert.match(requests[0].period.start, /^2026-09-30T22:00:00/)
  const body = await buffer(await engine.download(owner, job.id))
  assert.equal(body.toString().split('\n').length - 2, outcome.rows)
  assert.ok(outcome.rows > 0 && outcome.rows <= 500)
})

test('the data function\'s own error rejects runOnce unchanged and fails the job', async () => {
  const engine = new Engine(config())
  const job = await engine.create(owner, V2_CSV)
  const down = new Error('the catalogue database is down')
  await assert.rejects(engine.runOnce({ data: () => { throw down } }), (err) => err === down)
  const status = await engine.status(owner, job.id)
  assert.notEqual(status.status, 'running')
  assert.notEqual(status.status, 'succeeded')
  await assert.rejects(engine.runOnce({ data: 'rows' }), { code: 'EXPORT_INVALID_REQUEST', message: /data/ })
  await assert.rejects(engine.runOnce({ jobid: job.id }), { code: 'EXPORT_INVALID_REQUEST', message: /jobid/ })
})

test('runOnce with a jobId runs that job only; an AbortSignal releases a running job', async () => {
  const engine = new Engine(config(5_000_000))
  const first = await engine.create(owner, V2_CSV)
  const second = await engine.create(owner, V2_CSV)
  const controller = new AbortController()
  let started = false
  const run = engine.runOnce({
    jobId: second.id,
    signal: controller.signal,
    onProgress: () => {
      if (!started) {
        started = true
        controller.abort()
      }
    },
  })
  const outcome = await run
  assert.equal(outcome.job_id, second.id)
  assert.equal(outcome.released, true)
  assert.equal((await engine.status(owner, second.id)).status, 'pending')
  assert.equal((await engine.status(owner, first.id)).status, 'pending')
  await assert.rejects(engine.runOnce({ jobId: '00000000-0000-4000-8000-000000000000' }), { code: 'EXPORT_NOT_FOUND' })
})

test('platforms, schedules, a scheduler tick and purge', async () => {
  const engine = new Engine(config())
  const admin = { userId: 'admin', organisation: 'registry', scopes: ['READ_EXPORTS', 'WRITE_EXPORTS', 'export.admin'] }
  const platform = await engine.createPlatform(admin, 'opendata-csv', V2_CSV, 'the monthly file')
  assert.equal(platform.name, 'opendata-csv')
  assert.deepEqual((await engine.listPlatforms(admin)).map((p) => p.name), ['opendata-csv'])
  assert.equal((await engine.getPlatform(admin, 'opendata-csv')).name, 'opendata-csv')
  await engine.deletePlatform(admin, 'opendata-csv')
  await assert.rejects(engine.getPlatform(admin, 'opendata-csv'), { code: 'EXPORT_NOT_FOUND' })

  const installed = await engine.installMonthlyOpendata(admin)
  assert.ok(installed)
  const schedules = await engine.listSchedules(admin)
  assert.ok(schedules.length > 0)
  const one = await engine.getSchedule(admin, schedules[0].id)
  assert.equal(one.id, schedules[0].id)
  assert.equal((await engine.setScheduleEnabled(admin, one.id, false)).id, one.id)
  await engine.tickScheduler()
  assert.ok(Array.isArray(await engine.scheduleRuns(admin, one.id)))
  await engine.deleteSchedule(admin, one.id)
  await assert.rejects(engine.getSchedule(admin, one.id), { code: 'EXPORT_NOT_FOUND' })
  await assert.rejects(engine.createSchedule(admin, { id: 'x', tigger: {} }), { code: 'EXPORT_INVALID_REQUEST', message: /tigger/ })

  const report = await engine.purge({ dryRun: true })
  assert.equal(report.dry_run, true)
  assert.deepEqual(report.jobs, [])
})
