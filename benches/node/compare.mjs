#!/usr/bin/env node
// export-core's Node binding against the Node peers, side by side in one run.
//
//     cd benches/node && npm install && node compare.mjs [--rows N] [--rounds K] [--only csv|xlsx]
//
// Other flags: --xlsx-rows N (rows of every XLSX line; default --rows), --check-rows N (rows of
// the sanity run, default 2000; 0 skips it), --lines a,b (only these lines; `ec-csv-arrays`,
// array rows with `columns`, runs only when named here), --dir DIR (work
// directory; default /dev/shm/export-core-node-compare-PID, removed at the end), --keep,
// --json FILE (the raw results), --binding DIR (the export-core package to measure: a directory
// with export-core.js, index.js and the addon; default ../../bindings-node. A copy taken before
// the run keeps it still while the working tree changes).
//
// The run records the SHA-256 of the binding's export-core.js and addon, and stops with an error
// if export-core.js, index.js or the addon changes (size or mtime) between two children (a
// rebuild mid-run would mix two builds).
//
// How it measures:
//
// - Data: the 10 columns of shared/spec/TARGETS.md, the values of benches/src/lib.rs (`row(i)`:
//   SplitMix64 of the row number): 4 integers (id, customer_id, quantity, balance), 3 floats
//   (amount, latitude, score), 2 short strings (city, status), 1 date-time (created_at, ms,
//   UTC). Every line gets the same values: JS numbers, strings and a `Date` per row, in plain
//   objects `{ id, customer_id, ..., created_at }` (one shape); the Arrow lines get the same
//   columns as an apache-arrow Table (Int64, Float64, Utf8, Timestamp(ms, UTC), record
//   batches of 65,536 rows) serialised with `tableToIPC(table, 'stream')`.
// - Generation is NOT timed: each child process makes its rows (or its IPC bytes) with the
//   same code (`makeColumns`, then `makeObjects` or `makeIpc`), runs a GC, then starts the
//   clock. The async-generator line iterates the same pre-made array (`async function*` with
//   one `yield` per row): what it adds over the array line is the async iteration and the
//   binding's batching of it, not row generation.
// - Each line runs in its OWN child process (`--expose-gc`), once per round; rounds are
//   interleaved (round r runs every line, in an order rotated by r) and the table shows the
//   median wall time of the rounds (all rounds are listed). Only the write is timed, output
//   file closed included.
// - Dates: export-core and exceljs take the `Date` as a date-time; csv-stringify gets
//   `cast.date = d => d.toISOString()` (its default writes epoch milliseconds) and fast-csv a
//   `transform` that returns the row as an array in column order with `toISOString()` (its
//   default writes `Date.prototype.toString()`).
// - XLSX: exceljs `stream.xlsx.WorkbookWriter({ useSharedStrings: false, useStyles: true })`,
//   `ws.columns` with keys (created_at formatted `yyyy-mm-dd hh:mm:ss`), `addRow(obj).commit()`
//   per row, yielding to the event loop every 8,192 rows (so its zip stream drains to the
//   file); export-core `writeXlsx(rows, path)` with its defaults (header style, widths, frozen
//   header, autofilter).
// - Memory, per child: "peak RSS" is `process.resourceUsage().maxRSS` over the child's life
//   (data generation included); "write peak" is the high-water mark during the write alone
//   (VmHWM after resetting it through /proc/self/clear_refs just before the clock starts; the
//   reset also lowers maxRSS, so the life peak is max(maxRSS before the reset, after the
//   write)); "at start" is the RSS when the clock started. Heap: `heapUsed` sampled every 50 ms
//   (and at the start and end), peak and at start.
// - export-core row lines also report the synchronous time spent in the addon's `Feed.push` and
//   `Feed.pushColumns` (the conversion of JS rows, or of the JS layer's columns, into the core's
//   values, on the main thread), by wrapping both on `Feed.prototype`; the time of the JS
//   layer's reshaping of object rows into columns (`Reshaper.prototype.slice` in
//   export-core.js, which is not exported: the child loads export-core.js from its source with
//   one line appended that hands the class out, so it can be wrapped; "-" if the file has no
//   `Reshaper`); and the process CPU time of the write.
// - Checks: every output is read back after its child: CSV by a streaming count of lines
//   (header + rows), the header line, and the last line's id; XLSX by its size and a streaming
//   inflate of xl/worksheets/sheet1.xml counting `<row ` elements. Before the timed rounds a
//   sanity run (--check-rows rows, every line) parses each CSV with csv-parse and each XLSX
//   with exceljs (`xlsx.readFile`) and compares every cell to the generated values.
//
// The parent process only orchestrates and reads files as streams, so it stays small.

import { spawn } from 'node:child_process'
import fs from 'node:fs'
import Module, { createRequire } from 'node:module'
import os from 'node:os'
import path from 'node:path'
import { once } from 'node:events'
import { pipeline } from 'node:stream/promises'
import { fileURLToPath } from 'node:url'
import zlib from 'node:zlib'
import { createHash } from 'node:crypto'

const HERE = path.dirname(fileURLToPath(import.meta.url))
const DEV_BINDING = path.resolve(HERE, '../../bindings-node')
/** The export-core package measured (`--binding DIR`, given to the children too). */
const BINDING = (() => {
  const at = process.argv.indexOf('--binding')
  return at > 0 && process.argv[at + 1] ? path.resolve(process.argv[at + 1]) : DEV_BINDING
})()
const ADDON = 'export-core.linux-x64-gnu.node'
const require = createRequire(import.meta.url)
// apache-arrow and csv-parse are dev dependencies of the binding (of the working tree's).
const requireBinding = createRequire(path.join(DEV_BINDING, 'package.json'))

const COLUMNS = ['id', 'customer_id', 'quantity', 'balance', 'amount', 'latitude', 'score', 'city',
  'status', 'created_at']
const CITIES = ['Paris', 'Lyon', 'Marseille', 'Lille', 'Nantes', 'Rennes', 'Bordeaux', 'Toulouse']
const STATUSES = ['ok', 'pending', 'cancelled', 'refunded']
const START_MS = 1_790_812_800_000 // 2026-10-01T00:00:00Z
const IPC_BATCH_ROWS = 65_536
const YIELD_ROWS = 8192

// id: format, tool, input, the peers its ratio is against
const LINES = {
  'ec-csv-objects': { format: 'csv', tool: 'export-core writeCsv', input: 'array of objects', peers: ['csv-stringify', 'fast-csv'] },
  // Not in the default set (`--lines` takes it): positional array rows with the `columns` option,
  // to separate the binding's per-key work from the per-value work.
  'ec-csv-arrays': { format: 'csv', tool: 'export-core writeCsv', input: 'array of arrays + columns (peers: objects)', peers: ['csv-stringify', 'fast-csv'], extra: true },
  'ec-csv-async': { format: 'csv', tool: 'export-core writeCsv', input: 'async generator of objects', peers: ['csv-stringify', 'fast-csv'] },
  'ec-csv-arrow': { format: 'csv', tool: 'export-core writeCsv', input: 'Arrow IPC bytes (apache-arrow)', peers: ['csv-stringify', 'fast-csv'] },
  'csv-stringify': { format: 'csv', tool: 'csv-stringify (stream, piped to a file)', input: 'array of objects', peers: [] },
  'fast-csv': { format: 'csv', tool: 'fast-csv format stream to a file', input: 'array of objects', peers: [] },
  'ec-xlsx-objects': { format: 'xlsx', tool: 'export-core writeXlsx', input: 'array of objects', peers: ['exceljs'] },
  'ec-xlsx-arrow': { format: 'xlsx', tool: 'export-core writeXlsx', input: 'Arrow IPC bytes (apache-arrow)', peers: ['exceljs'] },
  exceljs: { format: 'xlsx', tool: 'exceljs stream.xlsx.WorkbookWriter', input: 'array of objects', peers: [] },
}

// ---------------------------------------------------------------------------------------------
// Data: the same deterministic code in every child (benches/src/lib.rs `row(i)`).

const M64 = (1n << 64n) - 1n

function mix(z) {
  z = (z + 0x9e3779b97f4a7c15n) & M64
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & M64
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & M64
  return z ^ (z >> 31n)
}

/** The 10 columns of rows 0..n-1: numbers in Float64Arrays, strings in arrays. */
function makeColumns(n) {
  const f = () => new Float64Array(n)
  const c = {
    id: f(), customer_id: f(), quantity: f(), balance: f(), amount: f(), latitude: f(), score: f(),
    city: new Array(n), status: new Array(n), created_at: f(),
  }
  for (let i = 0; i < n; i++) {
    const a = mix(BigInt(i))
    const b = mix(a)
    const d = mix(b)
    c.id[i] = i + 1
    c.customer_id[i] = Number(a % 1_000_000n)
    c.quantity[i] = Number((a >> 40n) % 20n) + 1
    c.balance[i] = Number(b % 2_000_000n) - 1_000_000
    c.amount[i] = Number((b >> 32n) % 1_000_000n) / 100
    c.latitude[i] = 42 + Number(d % 9_000_000n) / 1_000_000
    c.score[i] = Number(d >> 11n) / 2 ** 53
    c.city[i] = CITIES[Number((a >> 8n) % 8n)]
    c.status[i] = STATUSES[Number((b >> 8n) % 4n)]
    c.created_at[i] = START_MS + i * 2600 + Number(d % 1000n)
  }
  return c
}

/** The rows as plain objects of one shape, the date-time as a `Date`. */
function makeObjects(c, n) {
  const rows = new Array(n)
  for (let i = 0; i < n; i++) {
    rows[i] = {
      id: c.id[i],
      customer_id: c.customer_id[i],
      quantity: c.quantity[i],
      balance: c.balance[i],
      amount: c.amount[i],
      latitude: c.latitude[i],
      score: c.score[i],
      city: c.city[i],
      status: c.status[i],
      created_at: new Date(c.created_at[i]),
    }
  }
  return rows
}

/** The rows as positional arrays, in column order. */
function makeArrays(c, n) {
  const rows = new Array(n)
  for (let i = 0; i < n; i++) {
    rows[i] = [c.id[i], c.customer_id[i], c.quantity[i], c.balance[i], c.amount[i], c.latitude[i], c.score[i],
      c.city[i], c.status[i], new Date(c.created_at[i])]
  }
  return rows
}

/** The same columns as Arrow IPC stream bytes, built by apache-arrow. */
function makeIpc(c, n) {
  const A = requireBinding('apache-arrow')
  const int64 = (col, lo, hi) => A.makeVector(BigInt64Array.from(col.subarray(lo, hi), (v) => BigInt(v)))
  const float64 = (col, lo, hi) => A.makeVector(col.slice(lo, hi))
  const utf8 = (col, lo, hi) => A.vectorFromArray(col.slice(lo, hi), new A.Utf8())
  const stamp = (col, lo, hi) =>
    A.makeVector(A.makeData({
      type: new A.TimestampMillisecond('UTC'),
      length: hi - lo,
      data: BigInt64Array.from(col.subarray(lo, hi), (v) => BigInt(v)),
    }))
  const kinds = { city: utf8, status: utf8, created_at: stamp, amount: float64, latitude: float64, score: float64 }
  let table = null
  for (let lo = 0; lo < n; lo += IPC_BATCH_ROWS) {
    const hi = Math.min(n, lo + IPC_BATCH_ROWS)
    const part = new A.Table(Object.fromEntries(COLUMNS.map((k) => [k, (kinds[k] ?? int64)(c[k], lo, hi)])))
    table = table ? table.concat(part) : part
  }
  return A.tableToIPC(table, 'stream')
}

// ---------------------------------------------------------------------------------------------
// The lines (in the child)

async function* asyncRows(rows) {
  for (const row of rows) yield row
}

const pause = () => new Promise((resolve) => setImmediate(resolve))

function runner(line, input, out) {
  const ec = () => require(BINDING)
  switch (line) {
    case 'ec-csv-objects':
    case 'ec-csv-arrow':
      return () => ec().writeCsv(input, out)
    case 'ec-csv-arrays':
      return () => ec().writeCsv(input, out, { columns: COLUMNS })
    case 'ec-csv-async':
      return () => ec().writeCsv(asyncRows(input), out)
    case 'ec-xlsx-objects':
    case 'ec-xlsx-arrow':
      return () => ec().writeXlsx(input, out)
    case 'csv-stringify': {
      const { stringify } = require('csv-stringify')
      return async () => {
        const s = stringify({ header: true, columns: COLUMNS, cast: { date: (d) => d.toISOString() } })
        const done = pipeline(s, fs.createWriteStream(out))
        for (const row of input) {
          if (!s.write(row)) await once(s, 'drain')
        }
        s.end()
        await done
      }
    }
    case 'fast-csv': {
      const { format } = require('fast-csv')
      return async () => {
        const s = format({
          headers: COLUMNS,
          includeEndRowDelimiter: true,
          transform: (r) => [r.id, r.customer_id, r.quantity, r.balance, r.amount, r.latitude, r.score,
            r.city, r.status, r.created_at.toISOString()],
        })
        const done = pipeline(s, fs.createWriteStream(out))
        for (const row of input) {
          if (!s.write(row)) await once(s, 'drain')
        }
        s.end()
        await done
      }
    }
    case 'exceljs': {
      const ExcelJS = require('exceljs')
      return async () => {
        const wb = new ExcelJS.stream.xlsx.WorkbookWriter({ filename: out, useSharedStrings: false, useStyles: true })
        const ws = wb.addWorksheet('Sheet1')
        ws.columns = COLUMNS.map((key) =>
          key === 'created_at' ? { header: key, key, style: { numFmt: 'yyyy-mm-dd hh:mm:ss' } } : { header: key, key })
        let i = 0
        for (const row of input) {
          ws.addRow(row).commit()
          if (++i % YIELD_ROWS === 0) await pause()
        }
        ws.commit()
        await wb.commit()
      }
    }
    default:
      throw new Error(`unknown line ${line}`)
  }
}

function procStatus(key) {
  const m = new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(fs.readFileSync('/proc/self/status', 'utf8'))
  return m ? Number(m[1]) : 0 // KiB
}

function resetHwm() {
  try {
    fs.writeFileSync('/proc/self/clear_refs', '5')
    return true
  } catch {
    return false
  }
}

/**
 * export-core.js loaded (into the require cache, where `require(BINDING)` finds it) from its
 * source with one line appended that hands out its private `Reshaper` class, so its `slice` can
 * be timed; the class, or null when the file has none.
 */
function loadBindingWithReshaper() {
  const file = require.resolve(BINDING)
  const source = fs.readFileSync(file, 'utf8')
  const m = new Module(file, null)
  m.filename = file
  m.paths = Module._nodeModulePaths(path.dirname(file))
  m._compile(`${source}\n;module.exports.__Reshaper = typeof Reshaper === 'function' ? Reshaper : null\n`, file)
  m.loaded = true
  require.cache[file] = m
  const Reshaper = m.exports.__Reshaper
  delete m.exports.__Reshaper
  return Reshaper
}

async function child(line, rows, out) {
  const spec = LINES[line]
  const tGen = process.hrtime.bigint()
  let cols = makeColumns(rows)
  const make = line.endsWith('-arrow') ? makeIpc : line.endsWith('-arrays') ? makeArrays : makeObjects
  const input = make(cols, rows)
  cols = null // only the input stays alive
  const genS = Number(process.hrtime.bigint() - tGen) / 1e9

  // The synchronous part of Feed.push and Feed.pushColumns (the conversion into the core's
  // values on the main thread), and of the JS layer's reshaping of object rows into columns.
  const timed = { push: { ns: 0n, calls: 0 }, pushColumns: { ns: 0n, calls: 0 }, reshape: { ns: 0n, calls: 0 } }
  let reshapeTimed = false
  const wrap = (proto, name, into) => {
    const original = proto[name]
    if (typeof original !== 'function') return false
    proto[name] = function (...args) {
      const t = process.hrtime.bigint()
      try {
        return original.apply(this, args)
      } finally {
        into.ns += process.hrtime.bigint() - t
        into.calls++
      }
    }
    return true
  }
  if (line.startsWith('ec-')) {
    const native = require(path.join(BINDING, 'index.js'))
    wrap(native.Feed.prototype, 'push', timed.push)
    wrap(native.Feed.prototype, 'pushColumns', timed.pushColumns)
    const Reshaper = loadBindingWithReshaper()
    reshapeTimed = Reshaper != null && wrap(Reshaper.prototype, 'slice', timed.reshape)
  }
  const run = runner(line, input, out)
  global.gc?.()
  global.gc?.()

  const lifeBefore = process.resourceUsage().maxRSS
  const hwmReset = resetHwm()
  const start = process.memoryUsage()
  let heapPeak = start.heapUsed
  let rssPeakSampled = start.rss
  const sample = () => {
    const m = process.memoryUsage()
    if (m.heapUsed > heapPeak) heapPeak = m.heapUsed
    if (m.rss > rssPeakSampled) rssPeakSampled = m.rss
  }
  const timer = setInterval(sample, 50)
  const cpu0 = process.cpuUsage()
  const t0 = process.hrtime.bigint()
  await run()
  const wall = Number(process.hrtime.bigint() - t0) / 1e9
  const cpu = process.cpuUsage(cpu0)
  clearInterval(timer)
  sample()
  const writeHwmKiB = hwmReset ? procStatus('VmHWM') : 0
  const lifeKiB = Math.max(lifeBefore, process.resourceUsage().maxRSS)
  return {
    line,
    format: spec.format,
    rows,
    wall,
    cpu: (cpu.user + cpu.system) / 1e6,
    bytes: fs.statSync(out).size,
    genS,
    // pushS: into the addon, push + pushColumns.
    pushS: Number(timed.push.ns + timed.pushColumns.ns) / 1e9,
    pushes: timed.push.calls + timed.pushColumns.calls,
    pushRowsS: Number(timed.push.ns) / 1e9,
    pushRowsCalls: timed.push.calls,
    pushColumnsS: Number(timed.pushColumns.ns) / 1e9,
    pushColumnsCalls: timed.pushColumns.calls,
    reshapeS: reshapeTimed ? Number(timed.reshape.ns) / 1e9 : null,
    reshapeCalls: timed.reshape.calls,
    rssStartMiB: start.rss / 2 ** 20,
    rssWritePeakMiB: hwmReset ? writeHwmKiB / 1024 : rssPeakSampled / 2 ** 20,
    rssLifePeakMiB: lifeKiB / 1024,
    heapStartMiB: start.heapUsed / 2 ** 20,
    heapPeakMiB: heapPeak / 2 ** 20,
  }
}

// ---------------------------------------------------------------------------------------------
// Checks (in the parent, streaming)

/** Lines, the first line and the last line of a text file, read as a stream. */
async function csvShape(file) {
  let lines = 0
  let first = null
  let head = ''
  let tail = Buffer.alloc(0)
  for await (const chunk of fs.createReadStream(file, { highWaterMark: 1 << 20 })) {
    let i = -1
    while ((i = chunk.indexOf(10, i + 1)) !== -1) lines++
    if (first === null) {
      head += chunk.subarray(0, 4096).toString('utf8')
      const nl = head.indexOf('\n')
      if (nl !== -1) first = head.slice(0, nl)
    }
    tail = Buffer.concat([tail, chunk]).subarray(-4096)
  }
  // A last line without its line break is a line too.
  if (tail.length > 0 && tail[tail.length - 1] !== 10) lines++
  const text = tail.toString('utf8').replace(/\r?\n$/, '')
  const last = text.slice(text.lastIndexOf('\n') + 1)
  return { lines, first: (first ?? head).replace(/\r$/, ''), last }
}

async function checkCsv(file, rows) {
  const { lines, first, last } = await csvShape(file)
  const problems = []
  if (lines !== rows + 1) problems.push(`${lines} lines, expected ${rows + 1}`)
  if (first.replace(/^\uFEFF/, '') !== COLUMNS.join(',')) problems.push(`header ${JSON.stringify(first)}`)
  if (last.split(',')[0] !== String(rows)) problems.push(`last row ${JSON.stringify(last.slice(0, 60))}`)
  return { ok: problems.length === 0, text: problems.length ? problems.join('; ') : `${lines - 1} rows read back`, rowsRead: lines - 1 }
}

/** The entry `name` of a zip file: where its data starts, its sizes and method. */
function zipEntry(file, name) {
  const fd = fs.openSync(file, 'r')
  try {
    const size = fs.fstatSync(fd).size
    const tailLen = Math.min(size, 65_557)
    const tail = Buffer.alloc(tailLen)
    fs.readSync(fd, tail, 0, tailLen, size - tailLen)
    const eocd = tail.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]))
    if (eocd < 0) throw new Error('no end of central directory')
    let entries = tail.readUInt16LE(eocd + 10)
    let cdSize = tail.readUInt32LE(eocd + 12)
    let cdOffset = tail.readUInt32LE(eocd + 16)
    const z64 = tail.lastIndexOf(Buffer.from([0x50, 0x4b, 0x06, 0x06]), eocd)
    if (z64 >= 0) {
      entries = Number(tail.readBigUInt64LE(z64 + 32))
      cdSize = Number(tail.readBigUInt64LE(z64 + 40))
      cdOffset = Number(tail.readBigUInt64LE(z64 + 48))
    }
    const cd = Buffer.alloc(cdSize)
    fs.readSync(fd, cd, 0, cdSize, cdOffset)
    let p = 0
    for (let e = 0; e < entries; e++) {
      if (cd.readUInt32LE(p) !== 0x02014b50) throw new Error('bad central directory')
      const method = cd.readUInt16LE(p + 10)
      let csize = cd.readUInt32LE(p + 20)
      let usize = cd.readUInt32LE(p + 24)
      const nameLen = cd.readUInt16LE(p + 28)
      const extraLen = cd.readUInt16LE(p + 30)
      const commentLen = cd.readUInt16LE(p + 32)
      let local = cd.readUInt32LE(p + 42)
      const entryName = cd.subarray(p + 46, p + 46 + nameLen).toString('utf8')
      // ZIP64 extra field: the sizes and offset that overflowed, in this order.
      let x = p + 46 + nameLen
      const xEnd = x + extraLen
      while (x + 4 <= xEnd) {
        const id = cd.readUInt16LE(x)
        const len = cd.readUInt16LE(x + 2)
        if (id === 1) {
          let q = x + 4
          if (usize === 0xffffffff) { usize = Number(cd.readBigUInt64LE(q)); q += 8 }
          if (csize === 0xffffffff) { csize = Number(cd.readBigUInt64LE(q)); q += 8 }
          if (local === 0xffffffff) { local = Number(cd.readBigUInt64LE(q)); q += 8 }
        }
        x += 4 + len
      }
      if (entryName === name) {
        const lh = Buffer.alloc(30)
        fs.readSync(fd, lh, 0, 30, local)
        if (lh.readUInt32LE(0) !== 0x04034b50) throw new Error('bad local header')
        const start = local + 30 + lh.readUInt16LE(26) + lh.readUInt16LE(28)
        return { method, csize, usize, start }
      }
      p = xEnd + commentLen
    }
    throw new Error(`no ${name}`)
  } finally {
    fs.closeSync(fd)
  }
}

/** `<row ` elements of the first sheet, counted on a streaming inflate. */
async function xlsxRows(file) {
  const e = zipEntry(file, 'xl/worksheets/sheet1.xml')
  if (e.csize === 0) return { rows: 0, xmlBytes: 0 }
  const src = fs.createReadStream(file, { start: e.start, end: e.start + e.csize - 1, highWaterMark: 1 << 20 })
  const stream = e.method === 0 ? src : src.pipe(zlib.createInflateRaw({ chunkSize: 1 << 20 }))
  const needle = Buffer.from('<row ')
  let rows = 0
  let xmlBytes = 0
  let carry = Buffer.alloc(0)
  for await (const chunk of stream) {
    xmlBytes += chunk.length
    const buf = carry.length ? Buffer.concat([carry, chunk]) : chunk
    let i = -1
    while ((i = buf.indexOf(needle, i + 1)) !== -1) rows++
    carry = buf.subarray(Math.max(0, buf.length - (needle.length - 1)))
  }
  return { rows, xmlBytes }
}

async function checkXlsx(file, rows) {
  const { rows: found, xmlBytes } = await xlsxRows(file)
  const ok = found === rows + 1
  return {
    ok,
    text: ok ? `${found - 1} rows in sheet1.xml (${(xmlBytes / 1e6).toFixed(0)} MB of XML)` : `${found} <row> elements, expected ${rows + 1}`,
    rowsRead: found - 1,
  }
}

// The sanity run: every cell against the generated values.

function expectedRows(n) {
  const c = makeColumns(n)
  return Array.from({ length: n }, (_, i) => COLUMNS.map((k) => c[k][i]))
}

function sameCell(col, got, want) {
  if (col === 'created_at') {
    const ms = got instanceof Date ? got.getTime() : Date.parse(got)
    return Math.abs(ms - want) <= 1 // XLSX serial dates round to ~1 ms
  }
  if (col === 'city' || col === 'status') return got === want
  return Number(got) === want
}

async function sanityCsv(file, want) {
  const { parse } = requireBinding('csv-parse/sync')
  const records = parse(fs.readFileSync(file, 'utf8').replace(/^\uFEFF/, ''))
  if (records[0].join(',') !== COLUMNS.join(',')) return `header ${records[0]}`
  if (records.length !== want.length + 1) return `${records.length - 1} rows, expected ${want.length}`
  for (let r = 0; r < want.length; r++) {
    for (let k = 0; k < COLUMNS.length; k++) {
      if (!sameCell(COLUMNS[k], records[r + 1][k], want[r][k])) {
        return `row ${r + 1} ${COLUMNS[k]}: ${records[r + 1][k]} != ${want[r][k]}`
      }
    }
  }
  return null
}

async function sanityXlsx(file, want) {
  const ExcelJS = require('exceljs')
  const wb = new ExcelJS.Workbook()
  await wb.xlsx.readFile(file)
  const ws = wb.worksheets[0]
  const header = ws.getRow(1).values.slice(1)
  if (header.join(',') !== COLUMNS.join(',')) return `header ${header}`
  if (ws.actualRowCount !== want.length + 1) return `${ws.actualRowCount - 1} rows, expected ${want.length}`
  for (let r = 0; r < want.length; r++) {
    const values = ws.getRow(r + 2).values.slice(1)
    for (let k = 0; k < COLUMNS.length; k++) {
      if (!sameCell(COLUMNS[k], values[k], want[r][k])) {
        return `row ${r + 1} ${COLUMNS[k]}: ${values[k]} != ${want[r][k]}`
      }
    }
  }
  const counted = await xlsxRows(file)
  if (counted.rows !== want.length + 1) return `the streaming row count says ${counted.rows - 1}`
  return null
}

// ---------------------------------------------------------------------------------------------
// The parent

function parseArgs(argv) {
  const o = { rows: 1_000_000, rounds: 3, only: null, xlsxRows: null, checkRows: 2000, lines: null, dir: null, keep: false, json: null, child: null, out: null, binding: null }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    const v = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`)
      return argv[++i]
    }
    switch (a) {
      case '--rows': o.rows = Number(v()); break
      case '--rounds': o.rounds = Number(v()); break
      case '--only': o.only = v(); break
      case '--xlsx-rows': o.xlsxRows = Number(v()); break
      case '--check-rows': o.checkRows = Number(v()); break
      case '--lines': o.lines = v().split(','); break
      case '--dir': o.dir = v(); break
      case '--keep': o.keep = true; break
      case '--json': o.json = v(); break
      case '--child': o.child = v(); break
      case '--out': o.out = v(); break
      case '--binding': o.binding = v(); break
      case '-h':
      case '--help':
        console.log('node compare.mjs [--rows N] [--rounds K] [--only csv|xlsx] [--xlsx-rows N] [--check-rows N] [--lines a,b] [--dir DIR] [--keep] [--json FILE] [--binding DIR]')
        console.log(`lines: ${Object.keys(LINES).join(', ')}`)
        process.exit(0)
        break
      default: throw new Error(`unknown argument ${a}`)
    }
  }
  if (o.only && !['csv', 'xlsx'].includes(o.only)) throw new Error('--only takes csv or xlsx')
  for (const l of o.lines ?? []) if (!LINES[l]) throw new Error(`unknown line ${l}`)
  return o
}

function runChild(line, rows, out) {
  return new Promise((resolve, reject) => {
    const args = ['--expose-gc', fileURLToPath(import.meta.url), '--child', line, '--rows', String(rows), '--out', out, '--binding', BINDING]
    const p = spawn(process.execPath, args, { cwd: HERE, stdio: ['ignore', 'pipe', 'inherit'] })
    let stdout = ''
    p.stdout.on('data', (d) => { stdout += d })
    p.on('error', reject)
    p.on('close', (code) => {
      const m = /^RESULT (.*)$/m.exec(stdout)
      if (code !== 0 || !m) reject(new Error(`${line}: exit ${code}: ${stdout.slice(-2000)}`))
      else resolve(JSON.parse(m[1]))
    })
  })
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}
const fmtInt = (n) => Math.round(n).toLocaleString('en-US')
const log = (...a) => console.error(...a)

function machine() {
  const cpu = /^model name\s*:\s*(.*)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))
  return {
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    nproc: os.availableParallelism?.() ?? os.cpus().length,
    cpu: cpu ? cpu[1].trim() : os.cpus()[0]?.model,
    node: process.version,
    load: os.loadavg().map((x) => x.toFixed(2)).join(' '),
  }
}

function addon() {
  const describeFile = (name) => {
    const file = path.join(BINDING, name)
    try {
      const hash = createHash('sha256').update(fs.readFileSync(file)).digest('hex').slice(0, 12)
      return `${name} sha256 ${hash}…, modified ${fs.statSync(file).mtime.toISOString().replace(/\.\d+Z$/, 'Z')}`
    } catch {
      return `${name} not found`
    }
  }
  return `${BINDING === DEV_BINDING ? '' : `${BINDING}: `}${describeFile(ADDON)}; ${describeFile('export-core.js')}`
}

/** Size and mtime of the binding's files: what must not change while the rounds run. */
function bindingStamp() {
  return ['export-core.js', 'index.js', ADDON]
    .map((name) => {
      try {
        const st = fs.statSync(path.join(BINDING, name))
        return `${name} ${st.size} ${st.mtimeMs}`
      } catch {
        return `${name} missing`
      }
    })
    .join('; ')
}

function versions() {
  const v = (p) => { try { return JSON.parse(fs.readFileSync(p, 'utf8')).version } catch { return '?' } }
  return {
    'export-core': v(path.join(BINDING, 'package.json')),
    exceljs: v(path.join(HERE, 'node_modules/exceljs/package.json')),
    'csv-stringify': v(path.join(HERE, 'node_modules/csv-stringify/package.json')),
    'fast-csv': v(path.join(HERE, 'node_modules/fast-csv/package.json')),
    'apache-arrow': v(path.join(DEV_BINDING, 'node_modules/apache-arrow/package.json')),
  }
}

function table(results, o) {
  const byLine = Object.fromEntries(results.map((r) => [r.line, r]))
  const head = '| tool | input | rows | wall s (median) | rounds s | rows/s | CPU s | into the addon s (push + pushColumns) | JS reshaping s | output MB | peak RSS MiB | write peak RSS MiB (at start) | peak heap MiB (at start) | read back | ratio vs peer |'
  const sep = '|---|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|'
  const lines = [head, sep]
  for (const r of results) {
    const spec = LINES[r.line]
    const rowLine = r.line.startsWith('ec-') && !r.line.endsWith('-arrow')
    const ratios = spec.peers
      .filter((p) => byLine[p])
      .map((p) => `**${(r.rowsPerS / byLine[p].rowsPerS).toFixed(2)}x** ${p}`)
    lines.push(`| ${spec.tool} | ${spec.input} | ${fmtInt(r.rows)} | ${r.wall.toFixed(3)} | ${r.walls.map((w) => w.toFixed(2)).join(', ')} | ${fmtInt(r.rowsPerS)} | ${r.cpu.toFixed(2)} | ${rowLine ? `${r.pushS.toFixed(3)} (${r.pushRowsS.toFixed(3)} + ${r.pushColumnsS.toFixed(3)})` : '-'} | ${rowLine && r.reshapeS != null ? r.reshapeS.toFixed(3) : '-'} | ${(r.bytes / 1e6).toFixed(1)} | ${r.rssLifePeakMiB.toFixed(0)} | ${r.rssWritePeakMiB.toFixed(0)} (${r.rssStartMiB.toFixed(0)}) | ${r.heapPeakMiB.toFixed(0)} (${r.heapStartMiB.toFixed(0)}) | ${r.check} | ${ratios.join(', ') || '-'} |`)
  }
  return lines.join('\n')
}

async function main() {
  const o = parseArgs(process.argv.slice(2))
  if (o.child) {
    const result = await child(o.child, o.rows, o.out)
    process.stdout.write(`RESULT ${JSON.stringify(result)}\n`)
    return
  }
  const xlsxRows = o.xlsxRows ?? o.rows
  const selected = Object.keys(LINES).filter((l) =>
    (!o.only || LINES[l].format === o.only) && (o.lines ? o.lines.includes(l) : !LINES[l].extra))
  const dir = o.dir ?? path.join(fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir(), `export-core-node-compare-${process.pid}`)
  fs.mkdirSync(dir, { recursive: true })
  const m0 = machine()
  const addon0 = addon()
  const stamp0 = bindingStamp()
  const still = () => {
    if (bindingStamp() !== stamp0) throw new Error(`the binding changed during the run (was ${addon0}, now ${addon()}): its figures would mix two builds`)
  }
  log(`# ${m0.date}: ${m0.nproc} cores, ${m0.cpu}, Node ${m0.node}, load ${m0.load}; work dir ${dir}; ${addon0}`)
  const rowsOf = (l) => (LINES[l].format === 'xlsx' ? xlsxRows : o.rows)
  const outOf = (l, tag) => path.join(dir, `${l}${tag}.${LINES[l].format}`)
  const t0 = Date.now()
  try {
    // The sanity run: small, every cell compared.
    if (o.checkRows > 0) {
      const want = expectedRows(o.checkRows)
      for (const l of selected) {
        const out = outOf(l, '-sanity')
        await runChild(l, o.checkRows, out)
        still()
        const problem = LINES[l].format === 'csv' ? await sanityCsv(out, want) : await sanityXlsx(out, want)
        if (problem) throw new Error(`sanity run, ${l}: ${problem}`)
        log(`sanity ${l}: ${o.checkRows} rows, every cell as generated`)
        if (!o.keep) fs.rmSync(out, { force: true })
      }
    }
    // The timed rounds, interleaved.
    const runs = Object.fromEntries(selected.map((l) => [l, []]))
    for (let round = 0; round < o.rounds; round++) {
      const order = selected.map((_, i) => selected[(i + round) % selected.length])
      for (const l of order) {
        const out = outOf(l, `-r${round + 1}`)
        const r = await runChild(l, rowsOf(l), out)
        still()
        const check = LINES[l].format === 'csv' ? await checkCsv(out, r.rows) : await checkXlsx(out, r.rows)
        if (!check.ok) throw new Error(`${l}, round ${round + 1}: output check failed: ${check.text}`)
        r.check = check.text
        runs[l].push(r)
        log(`round ${round + 1} ${l}: ${r.rows} rows ${r.wall.toFixed(3)} s, ${(r.bytes / 1e6).toFixed(1)} MB, into the addon ${r.pushS.toFixed(3)} s (push ${r.pushRowsS.toFixed(3)} s x${r.pushRowsCalls}, pushColumns ${r.pushColumnsS.toFixed(3)} s x${r.pushColumnsCalls}), reshaping ${r.reshapeS == null ? '-' : `${r.reshapeS.toFixed(3)} s`}, cpu ${r.cpu.toFixed(2)} s, rss ${r.rssLifePeakMiB.toFixed(0)}/${r.rssWritePeakMiB.toFixed(0)} MiB, heap ${r.heapPeakMiB.toFixed(0)} MiB (${r.check}); load ${os.loadavg()[0].toFixed(2)}`)
        if (!o.keep) fs.rmSync(out, { force: true })
      }
    }
    const results = selected.map((l) => {
      const rs = runs[l]
      const wall = median(rs.map((r) => r.wall))
      const mid = rs.find((r) => r.wall === wall) ?? rs[0]
      return {
        ...mid,
        wall,
        walls: rs.map((r) => r.wall),
        rowsPerS: mid.rows / wall,
        cpu: median(rs.map((r) => r.cpu)),
        pushS: median(rs.map((r) => r.pushS)),
        pushRowsS: median(rs.map((r) => r.pushRowsS)),
        pushColumnsS: median(rs.map((r) => r.pushColumnsS)),
        reshapeS: rs.some((r) => r.reshapeS == null) ? null : median(rs.map((r) => r.reshapeS)),
        rssLifePeakMiB: Math.max(...rs.map((r) => r.rssLifePeakMiB)),
        rssWritePeakMiB: Math.max(...rs.map((r) => r.rssWritePeakMiB)),
        heapPeakMiB: Math.max(...rs.map((r) => r.heapPeakMiB)),
      }
    })
    const m1 = machine()
    const cmd = `node compare.mjs ${process.argv.slice(2).join(' ')}`.trim()
    const md = [
      `${m0.date}, \`${cmd}\` (${((Date.now() - t0) / 1000).toFixed(0)} s): ${m0.nproc} cores (${m0.cpu}), Node ${m0.node}; load average ${m0.load} at the start, ${m1.load} at the end.`,
      `Versions: ${Object.entries(versions()).map(([k, v]) => `${k} ${v}`).join(', ')} (${addon0}). ${o.rounds} interleaved rounds, each line in its own process; median wall time.${xlsxRows !== o.rows ? ` XLSX lines on ${fmtInt(xlsxRows)} rows.` : ''}`,
      '',
      table(results, o),
      '',
    ].join('\n')
    process.stdout.write(md)
    if (o.json) fs.writeFileSync(o.json, JSON.stringify({ machine: m0, end: m1, options: o, versions: versions(), addon: addon0, results }, null, 2))
  } finally {
    if (!o.keep && !o.dir) fs.rmSync(dir, { recursive: true, force: true })
  }
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
