// Inputs and outputs as Node has them: (async) iterables, Writables and Readables with
// back-pressure, AbortSignal, onProgress, several sheets; the host's own errors unchanged.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable, PassThrough } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import { parse } from 'csv-parse/sync'
import ExcelJS from 'exceljs'

const require = createRequire(import.meta.url)
const { writeCsv, writeXlsx, writeJson, exportTrips } = require('..')

const fresh = () => mkdtempSync(join(tmpdir(), 'export-core-streams-'))

async function read(stream) {
  const chunks = []
  for await (const chunk of stream) chunks.push(chunk)
  return { data: Buffer.concat(chunks), summary: await stream.summary }
}

async function* numbered(n, state = {}) {
  try {
    for (let i = 0; i < n; i++) yield { i, half: i / 2, label: `row ${i}` }
  } finally {
    state.closed = true
  }
}

test('an async generator, exact JSON Lines; a sync generator and a Set', async () => {
  const { data, summary } = await read(writeJson(numbered(3), null, { lines: true }))
  assert.equal(
    data.toString(),
    // A column of numbers some of which have fractions is a float column: written as floats.
    '{"i":0,"half":0.0,"label":"row 0"}\n{"i":1,"half":0.5,"label":"row 1"}\n{"i":2,"half":1.0,"label":"row 2"}\n',
  )
  assert.equal(summary.rows, 3)
  function* sync() {
    yield ['a', 1]
    yield ['b', 2]
  }
  const csv = await read(writeCsv(sync(), null, { columns: ['k', 'v'] }))
  assert.equal(csv.data.toString(), 'k,v\na,1\nb,2\n')
  const set = await read(writeCsv(new Set([{ k: 'x' }])))
  assert.equal(set.data.toString(), 'k\nx\n')
  const empty = await read(writeCsv([], null, { columns: ['k', 'v'] }))
  assert.equal(empty.data.toString(), 'k,v\n')
})

test('an async generator of 50k rows in small batches to a path, read back', async () => {
  const dir = fresh()
  const path = join(dir, 'n.csv')
  const summary = await writeCsv(numbered(50_000), path, { batchRows: 1000 })
  assert.equal(summary.rows, 50_000)
  const rows = parse(readFileSync(path), { columns: true })
  assert.equal(rows.length, 50_000)
  assert.deepEqual(rows[49_999], { i: '49999', half: '24999.5', label: 'row 49999' })
})

test('the iterator\'s own error rejects unchanged, the iterator is left, no file', async () => {
  const dir = fresh()
  const mine = new Error('the catalogue database went away')
  async function* failing() {
    for (let i = 0; i < 20_000; i++) yield { i }
    throw mine
  }
  await assert.rejects(writeCsv(failing(), join(dir, 'x.csv')), (err) => err === mine)
  await assert.rejects(writeXlsx(failing(), join(dir, 'x.xlsx')), (err) => err === mine)
  const stream = writeJson(failing())
  await assert.rejects(read(stream), (err) => err === mine)
  assert.deepEqual(readdirSync(dir), [])
})

test('a bad row in an iterable rejects with EXPORT_INVALID_INPUT naming the line and closes the iterator', async () => {
  const dir = fresh()
  const state = {}
  async function* rows() {
    try {
      yield { n: 1 }
      yield { n: 2 }
      yield { n: 'three' }
      for (;;) yield { n: 4 }
    } finally {
      state.closed = true
    }
  }
  await assert.rejects(writeCsv(rows(), join(dir, 'x.csv'), { batchRows: 2 }), {
    code: 'EXPORT_INVALID_INPUT',
    message: /line 3/,
  })
  assert.equal(state.closed, true)
  assert.deepEqual(readdirSync(dir), [])
})

test('an AbortSignal stops a running export: AbortError, no file, the iterator closed', async () => {
  const dir = fresh()
  for (const [write, name] of [[writeCsv, 'x.csv'], [writeXlsx, 'x.xlsx'], [writeJson, 'x.json']]) {
    const state = {}
    const controller = new AbortController()
    setTimeout(() => controller.abort(new Error('user left')), 150)
    const started = Date.now()
    await assert.rejects(write(numbered(1e12, state), join(dir, name), { signal: controller.signal }), (err) => {
      assert.equal(err.name, 'AbortError')
      assert.equal(err.code, 'ABORT_ERR')
      assert.equal(err.cause.message, 'user left')
      return true
    })
    assert.ok(Date.now() - started < 5000)
    // The iterator is closed at its next yield, just after the rejection.
    for (let i = 0; i < 50 && !state.closed; i++) await sleep(20)
    assert.equal(state.closed, true)
  }
  assert.deepEqual(readdirSync(dir), [])
  // Aborted before it starts: nothing is read.
  const state = {}
  await assert.rejects(writeCsv(numbered(10, state), join(dir, 'y.csv'), { signal: AbortSignal.abort() }), {
    name: 'AbortError',
  })
  assert.equal(existsSync(join(dir, 'y.csv')), false)
})

test('an AbortSignal ends the Readable with an AbortError; the trip export too', async () => {
  const controller = new AbortController()
  const stream = writeCsv(numbered(1e12), null, { signal: controller.signal })
  setTimeout(() => controller.abort(), 100)
  await assert.rejects(read(stream), { name: 'AbortError' })
  const dir = fresh()
  await assert.rejects(
    exportTrips(join(dir, 't.xlsx'), {
      audience: 'opendata', start: '2026-10-01', end: '2026-11-01', rows: 50_000_000, signal: AbortSignal.timeout(200),
    }),
    { name: 'AbortError' },
  )
  assert.deepEqual(readdirSync(dir), [])
})

test('onProgress reports the rows written, increasing, ending at the total', async () => {
  const seen = []
  const summary = await writeCsv(numbered(40_000), join(fresh(), 'p.csv'), { onProgress: (rows) => seen.push(rows), batchRows: 5000 })
  // The calls are queued to the main thread without waiting: let the last ones arrive.
  await sleep(50)
  assert.ok(seen.length >= 2, String(seen))
  assert.deepEqual(seen, [...seen].sort((a, b) => a - b))
  assert.equal(seen.at(-1), summary.rows)
  const trips = []
  await exportTrips(join(fresh(), 't.csv'), {
    version: 'v2', audience: 'opendata', start: '2026-10-01', end: '2026-10-08', rows: 30_000, onProgress: (r) => trips.push(r),
  })
  await sleep(50)
  assert.ok(trips.length > 0 && trips.at(-1) <= 30_000)
})

test('back-pressure: an unread Readable stops the export; reading it resumes', async () => {
  const seen = []
  const stream = writeCsv(numbered(2_000_000), null, { onProgress: (rows) => seen.push(rows), batchRows: 1000 })
  // Start it, take one chunk, then stop reading.
  const first = await new Promise((resolve) => stream.once('data', resolve))
  stream.pause()
  assert.ok(first.length > 0)
  // The export fills its short queues, then waits: its progress stops.
  let stalled = -1
  for (let i = 0; i < 20; i++) {
    const before = seen.at(-1) ?? 0
    await sleep(250)
    if ((seen.at(-1) ?? 0) === before) {
      stalled = before
      break
    }
  }
  assert.ok(stalled >= 0, 'the export went on while nobody read')
  assert.ok(stalled < 500_000, `${stalled} rows written ahead of the reader`)
  let bytes = first.length
  stream.on('data', (c) => (bytes += c.length))
  stream.resume()
  const summary = await stream.summary
  await new Promise((resolve) => stream.once('end', resolve))
  assert.equal(summary.rows, 2_000_000)
  assert.equal(bytes, summary.bytes)
})

test('a slow Writable gets the file with its buffer bounded, and is ended', async () => {
  let bytes = 0
  let most = 0
  const out = new Writable({
    highWaterMark: 64 * 1024,
    write(chunk, _enc, done) {
      bytes += chunk.length
      most = Math.max(most, this.writableLength)
      setTimeout(done, 1)
    },
  })
  const summary = await writeCsv(numbered(300_000), out)
  assert.equal(bytes, summary.bytes)
  assert.ok(out.writableFinished)
  // One chunk at a time beyond the high-water mark, never the whole file.
  assert.ok(most <= 64 * 1024 + 512 * 1024, String(most))
  const kept = new PassThrough()
  kept.resume()
  await writeCsv([{ a: 1 }], kept, { keepOpen: true })
  assert.equal(kept.writableEnded, false)
  kept.end()
})

test('a Writable that fails stops the export with its error', async () => {
  const state = {}
  const broken = new Error('disk full')
  let writes = 0
  const out = new Writable({
    write(_chunk, _enc, done) {
      writes += 1
      done(writes > 2 ? broken : null)
    },
  })
  await assert.rejects(writeCsv(numbered(1e12, state), out), (err) => err === broken)
  assert.equal(state.closed, true)
})

test('destroying the Readable cancels the export and closes the iterator', async () => {
  const state = {}
  const stream = writeCsv(numbered(1e12, state))
  await new Promise((resolve) => stream.once('data', resolve))
  stream.destroy()
  await assert.rejects(stream.summary, { code: 'EXPORT_CANCELLED' })
  for (let i = 0; i < 50 && !state.closed; i++) await sleep(20)
  assert.equal(state.closed, true)
})

test('several sheets from different inputs, read back with exceljs', async () => {
  const path = join(fresh(), 'book.xlsx')
  const summary = await writeXlsx(null, path, {
    sheets: { products: [{ sku: 'A-1', stock: 3 }], suppliers: numbered(2) },
    headerStyle: { bold: true },
  })
  assert.deepEqual(summary.sheets, ['products', 'suppliers'])
  const book = new ExcelJS.Workbook()
  await book.xlsx.readFile(path)
  assert.deepEqual(book.getWorksheet('products').getRow(2).values.slice(1), ['A-1', 3])
  assert.deepEqual(book.getWorksheet('suppliers').getRow(3).values.slice(1), [1, 0.5, 'row 1'])
  await assert.rejects(writeXlsx([{ a: 1 }], path, { sheets: { a: [] } }), { code: 'EXPORT_INVALID_REQUEST', message: /sheets/ })
  await assert.rejects(writeXlsx(null, path, { sheets: 'products' }), { code: 'EXPORT_INVALID_REQUEST' })
  await assert.rejects(writeCsv(null, join(fresh(), 'x.csv'), { sheets: { a: [{ a: 1 }], b: [{ b: 1 }] } }), {
    code: 'EXPORT_INVALID_REQUEST',
  })
})

test('wrong types are refused with EXPORT_INVALID_REQUEST naming the argument', async () => {
  const path = join(fresh(), 'x.csv')
  await assert.rejects(writeCsv(42, path), { code: 'EXPORT_INVALID_REQUEST', message: /data/ })
  await assert.rejects(writeCsv([{ a: 1 }], path, []), { code: 'EXPORT_INVALID_REQUEST', message: /options/ })
  await assert.rejects(writeCsv([{ a: 1 }], path, { onProgress: 'yes' }), { code: 'EXPORT_INVALID_REQUEST', message: /onProgress/ })
  await assert.rejects(writeCsv([{ a: 1 }], path, { columns: 'a' }), { code: 'EXPORT_INVALID_REQUEST', message: /columns/ })
  await assert.rejects(writeCsv([{ a: 1 }], path, { delimiter: 7 }), { code: 'EXPORT_INVALID_REQUEST', message: /delimiter/ })
  await assert.rejects(writeJson([{ a: 1 }], path, { lines: 'yes' }), { code: 'EXPORT_INVALID_REQUEST', message: /lines/ })
  await assert.rejects(writeCsv([1, 2], path), { code: 'EXPORT_INVALID_INPUT', message: /object or an array/ })
  await assert.rejects(exportTrips(path, null), { code: 'EXPORT_INVALID_REQUEST' })
  assert.equal(existsSync(path), false)
})

test('floatColumns: whole numbers first, fractions later; without it the error says what to do', async () => {
  const rows = Array.from({ length: 3000 }, (_, i) => ({ sku: `S-${i}`, price: i < 2500 ? 10 : 12.5 }))
  const { data } = await read(writeCsv(rows, null, { floatColumns: ['price'], batchRows: 1000 }))
  const lines = data.toString().trim().split('\n')
  assert.equal(lines[1], 'S-0,10.0')
  assert.equal(lines.at(-1), 'S-2999,12.5')
  await assert.rejects(read(writeCsv(rows, null, { batchRows: 1000 })), {
    code: 'EXPORT_INVALID_INPUT',
    message: /row 2501 is a float but the column holds integers .*declare it a float column/,
  })
  await assert.rejects(read(writeCsv(rows, null, { floatColumns: 'price' })), { code: 'EXPORT_INVALID_REQUEST', message: /floatColumns/ })
})

test('an onProgress that throws stops the export and rejects with its error, no file', async () => {
  const dir = fresh()
  const mine = new Error('progress handler failed')
  const state = {}
  await assert.rejects(
    writeCsv(numbered(1e12, state), join(dir, 'x.csv'), { onProgress: () => { throw mine } }),
    (err) => err === mine,
  )
  assert.deepEqual(readdirSync(dir), [])
})

test('object rows with keys in any order, missing keys as null; an unknown key is named', async () => {
  const { data } = await read(writeCsv([{ a: 1, b: 'x' }, { b: 'y', a: 2 }, { a: 3 }]))
  assert.equal(data.toString(), 'a,b\n1,x\n2,y\n3,\n')
  await assert.rejects(read(writeCsv([{ a: 1 }, { a: 2, c: 3 }])), {
    code: 'EXPORT_INVALID_INPUT',
    message: /line 2: unknown key "c"/,
  })
  await assert.rejects(read(writeCsv([{ a: 1 }, { a: Symbol('s') }])), {
    code: 'EXPORT_INVALID_INPUT',
    message: /line 2: column "a"/,
  })
})

test('a failed export into a Writable rejects and never crashes the process; untouched when nothing was written', async () => {
  const { createWriteStream } = await import('node:fs')
  const dir = fresh()
  const file = createWriteStream(join(dir, 'o.csv'))
  await assert.rejects(writeCsv([{ a: 1 }], file, { fields: ['b'] }), { code: 'EXPORT_INVALID_REQUEST' })
  assert.equal(file.destroyed, false)
  file.end()
  // Failing after some chunks: the output is destroyed, its 'error' handled.
  const mine = new Error('source failed')
  async function* late() {
    for (let i = 0; i < 200_000; i++) yield { i, label: `row ${i}` }
    throw mine
  }
  const out = new PassThrough()
  out.resume()
  await assert.rejects(writeCsv(late(), out), (err) => err === mine)
  await sleep(20)
  assert.equal(out.destroyed, true)
})

test('a bad option with many rows rejects promptly (the rows are not read)', async () => {
  const rows = Array.from({ length: 50_000 }, (_, i) => ({ i }))
  await assert.rejects(writeCsv(rows, join(fresh(), 'x.csv'), { bmo: 1 }), { code: 'EXPORT_INVALID_REQUEST', message: /bmo/ })
  await assert.rejects(read(writeCsv(rows, null, { quoteStyle: 'sometimes' })), {
    code: 'EXPORT_INVALID_REQUEST',
    message: /^invalid `quoteStyle`/,
  })
  const state = {}
  await assert.rejects(
    exportTrips(join(fresh(), 't.csv'), { audience: 'nobody', start: '2026-10-01', end: '2026-10-02', source: numbered(1e12, state) }),
    { code: /^EXPORT_INVALID/ },
  )
})
