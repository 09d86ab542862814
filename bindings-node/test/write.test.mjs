// The writers: exact bytes, read-backs with csv-parse and exceljs, Arrow IPC input, errors.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { existsSync, mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parse } from 'csv-parse/sync'
import ExcelJS from 'exceljs'
import { tableFromArrays, tableToIPC } from 'apache-arrow'

const require = createRequire(import.meta.url)
const { writeCsv, writeXlsx, writeJson, _panicForTests } = require('..')

/** The Readable an export returns without `out`, read whole: its bytes and summary. */
async function read(stream) {
  const chunks = []
  for await (const chunk of stream) chunks.push(chunk)
  return { data: Buffer.concat(chunks), summary: await stream.summary }
}

const dir = mkdtempSync(join(tmpdir(), 'export-core-node-'))
const products = [
  { sku: 'A-1', name: 'Bolt', stock: 3 },
  { sku: 'B-2', name: 'Nut, hex', stock: null },
]

test('CSV from objects: exact bytes from the Readable, then its summary', async () => {
  const { data, summary } = await read(writeCsv(products))
  assert.equal(data.toString(), 'sku,name,stock\nA-1,Bolt,3\nB-2,"Nut, hex",\n')
  assert.equal(summary.rows, 2)
  assert.equal(summary.bytes, data.length)
  assert.deepEqual(summary.sheets, [])
})

test('CSV from arrays with columns, and options in camelCase', async () => {
  const { data } = await read(writeCsv([['A-1', 3], ['B-2', 0]], null, {
    columns: ['sku', 'stock'],
    rename: { stock: 'in_stock' },
    delimiter: ';',
    bom: true,
  }))
  assert.equal(data.toString('latin1').slice(0, 3), '\xEF\xBB\xBF')
  assert.equal(data.subarray(3).toString(), 'sku;in_stock\nA-1;3\nB-2;0\n')
})

test('CSV to a path, read back with csv-parse', async () => {
  const path = join(dir, 'products.csv')
  const summary = await writeCsv(products, path, { exclude: ['name'] })
  assert.equal(summary.fileName, 'products.csv')
  const records = parse(readFileSync(path), { columns: true })
  assert.deepEqual(records, [
    { sku: 'A-1', stock: '3' },
    { sku: 'B-2', stock: '' },
  ])
})

test('JSON Lines and a JSON array', async () => {
  const rows = [{ id: 1, at: new Date('2026-10-01T08:30:00Z'), tags: ['a'] }, { id: 2, at: null, tags: [] }]
  const lines = await read(writeJson(rows, null, { lines: true }))
  assert.equal(
    lines.data.toString(),
    '{"id":1,"at":"2026-10-01T08:30:00Z","tags":["a"]}\n{"id":2,"at":null,"tags":[]}\n',
  )
  const array = await read(writeJson(rows))
  assert.deepEqual(JSON.parse(array.data.toString()), [
    { id: 1, at: '2026-10-01T08:30:00Z', tags: ['a'] },
    { id: 2, at: null, tags: [] },
  ])
})

test('XLSX read back with exceljs: sheet name, values, bold header', async () => {
  const path = join(dir, 'products.xlsx')
  const summary = await writeXlsx(products, path, {
    sheetName: 'Stock',
    headerStyle: { bold: true, fontColor: '#000000' },
    columnWidths: { name: 30 },
  })
  assert.deepEqual(summary.sheets, ['Stock'])
  const book = new ExcelJS.Workbook()
  await book.xlsx.readFile(path)
  const sheet = book.getWorksheet('Stock')
  assert.ok(sheet)
  assert.deepEqual(sheet.getRow(1).values.slice(1), ['sku', 'name', 'stock'])
  assert.equal(sheet.getRow(1).getCell(1).font?.bold, true)
  assert.deepEqual(sheet.getRow(2).values.slice(1), ['A-1', 'Bolt', 3])
  assert.equal(sheet.getRow(3).getCell(2).value, 'Nut, hex')
})

test('XLSX as a Readable', async () => {
  const { data } = await read(writeXlsx(products))
  assert.equal(data.subarray(0, 2).toString(), 'PK')
  const book = new ExcelJS.Workbook()
  await book.xlsx.load(data)
  assert.equal(book.worksheets[0].name, 'Sheet1')
})

test('Arrow IPC input: stream and file formats, Buffer and Uint8Array', async () => {
  const table = tableFromArrays({ sku: ['A-1', 'B-2'], stock: Int32Array.from([3, 0]) })
  for (const format of ['stream', 'file']) {
    const bytes = tableToIPC(table, format)
    assert.ok(bytes instanceof Uint8Array)
    for (const data of [bytes, Buffer.from(bytes)]) {
      const { data: csv } = await read(writeCsv(data))
      assert.equal(csv.toString(), 'sku,stock\nA-1,3\nB-2,0\n', format)
    }
  }
})

test('a bad option rejects with EXPORT_INVALID_REQUEST naming it in camelCase', async () => {
  await assert.rejects(read(writeCsv(products, null, { bomm: true })), (err) => {
    assert.ok(err instanceof Error)
    assert.equal(err.code, 'EXPORT_INVALID_REQUEST')
    assert.match(err.message, /unknown field `bomm`/)
    assert.match(err.message, /`sheetName`/)
    return true
  })
  await assert.rejects(read(writeXlsx(products, null, { sheetNme: 'x' })), {
    code: 'EXPORT_INVALID_REQUEST',
    message: /^invalid `sheetNme`: unknown field `sheetNme`/,
  })
  await assert.rejects(writeCsv(products, join(dir, 'x.csv'), { fields: ['skuu'] }), {
    code: 'EXPORT_INVALID_REQUEST',
    message: /skuu/,
  })
  await assert.rejects(writeCsv(products, 42), { code: 'EXPORT_INVALID_REQUEST', message: /`out`/ })
  await assert.rejects(writeCsv('rows', join(dir, 'x.csv')), { code: 'EXPORT_INVALID_REQUEST', message: /data/ })
  await assert.rejects(read(writeCsv(products, null, { batchRows: 0 })), { code: 'EXPORT_INVALID_REQUEST', message: /batchRows/ })
  await assert.rejects(writeCsv(products, join(dir, 'x.csv'), { signal: 'stop' }), { code: 'EXPORT_INVALID_REQUEST', message: /signal/ })
  assert.equal(existsSync(join(dir, 'x.csv')), false)
})

test('a bad row rejects with EXPORT_INVALID_INPUT, and no file is left at the path', async () => {
  const path = join(dir, 'bad.csv')
  await assert.rejects(writeCsv([{ sku: 'A-1' }, { skuu: 'B-2' }], path), {
    code: 'EXPORT_INVALID_INPUT',
    message: 'invalid input rows at line 2: unknown key "skuu"; the columns are sku',
  })
  assert.equal(existsSync(path), false)
  await assert.rejects(writeCsv([{ n: 1 }, { n: 'two' }], path), { code: 'EXPORT_INVALID_INPUT' })
  assert.equal(existsSync(path), false)
  await assert.rejects(writeCsv(new Uint8Array([1, 2, 3]), path), { code: 'EXPORT_INVALID_INPUT' })
  assert.equal(existsSync(path), false)
})

test('a panic in the work rejects with EXPORT_INTERNAL and Node goes on', async () => {
  await assert.rejects(_panicForTests('boom'), { code: 'EXPORT_INTERNAL', message: /boom/ })
  const { data } = await read(writeCsv([{ ok: true }]))
  assert.equal(data.toString(), 'ok\ntrue\n')
})
