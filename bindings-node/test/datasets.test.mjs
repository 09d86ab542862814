// Datasets named in the engine's configuration, exported by a Node worker: a PostgreSQL query
// against the server scripts/test starts (EXPORT_CORE_PG_URL), and a typo refused by name.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { buffer } from 'node:stream/consumers'

const require = createRequire(import.meta.url)
const { Engine } = require('..')

const owner = { userId: 'u-1', organisation: 'org-1' }

function config(extra) {
  const dir = mkdtempSync(join(tmpdir(), 'export-core-datasets-'))
  return {
    job_store: { url: `sqlite://${join(dir, 'jobs.db')}` },
    storage: { url: `file://${join(dir, 'files')}` },
    ...extra,
  }
}

function pgUrl(t) {
  const url = (process.env.EXPORT_CORE_PG_URL ?? '').trim()
  if (!url) {
    if (process.env.EXPORT_CORE_REQUIRE_SERVICES === '1') {
      throw new Error('EXPORT_CORE_PG_URL is unset and EXPORT_CORE_REQUIRE_SERVICES=1 forbids skipping')
    }
    t.skip('EXPORT_CORE_PG_URL is unset')
  }
  return url
}

test('a PostgreSQL query dataset is exported by a job', async (t) => {
  const url = pgUrl(t)
  if (!url) return
  const engine = new Engine(config({
    databases: { shop: { url, tls: 'disable' } },
    datasets: {
      numbers: {
        database: 'shop',
        query: "SELECT g AS id, 'n-' || g AS label FROM generate_series(1, 300) g",
        headers: { label: 'Label' },
        batch_rows: 64,
      },
    },
  }))
  const job = await engine.create(owner, { schema: 'numbers', format: 'csv' })
  const outcome = await engine.runOnce()
  assert.equal(outcome.status, 'succeeded')
  assert.equal(outcome.job_id, job.id)
  const lines = (await buffer(await engine.download(owner, job.id))).toString().trimEnd().split('\n')
  assert.equal(lines.length, 301)
  assert.deepEqual([lines[0], lines[1], lines[300]], ['id,Label', '1,n-1', '300,n-300'])
  await assert.rejects(engine.download({ userId: 'u-2', organisation: 'org-1' }, job.id), { code: 'EXPORT_NOT_FOUND' })
})

test('a typo in a dataset is a config error naming it', () => {
  assert.throws(() => new Engine(config({ datasets: { t: { querry: 'SELECT 1' } } })), (err) => {
    assert.equal(err.code, 'EXPORT_CONFIG')
    assert.match(err.message, /querry/)
    return true
  })
})

test('a host dataset takes its rows from the worker\'s data function', async () => {
  const engine = new Engine(config({ datasets: { orders: { host: ['id:Int64', 'customer:Utf8'] } } }))
  const job = await engine.create(owner, { schema: 'orders', format: 'jsonlines' })
  const seen = []
  const outcome = await engine.runOnce({
    data: (request) => {
      seen.push(request.schema)
      return [{ id: 7, customer: 'ada' }, { id: 8, customer: 'bob' }]
    },
  })
  assert.equal(outcome.status, 'succeeded')
  assert.deepEqual(seen, ['orders'])
  const body = (await buffer(await engine.download(owner, job.id))).toString()
  assert.equal(body, '{"id":7,"customer":"ada"}\n{"id":8,"customer":"bob"}\n')

  // Without the host's data the job fails, naming the dataset.
  const second = await engine.create(owner, { schema: 'orders', format: 'csv' })
  assert.equal((await engine.runOnce()).status, 'failed')
  assert.match((await engine.status(owner, second.id)).error.message, /dataset `orders` takes its rows from the host/)
})
