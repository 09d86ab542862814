// What a Node host needs while a large export runs: the event loop keeps turning (the work is
// on threads of its own, rows are converted a batch at a time), libuv's pool stays free for
// the host's file I/O, and the JS heap stays flat (rows are read no faster than written).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { mkdtempSync, statSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'

const require = createRequire(import.meta.url)
const { writeCsv, writeXlsx, exportTrips } = require('..')

const dir = mkdtempSync(join(tmpdir(), 'export-core-host-'))

async function* rows(n) {
  for (let i = 0; i < n; i++) yield { id: i, sku: `SKU-${i}`, price: i * 0.25, active: i % 2 === 0 }
}

test('a 1M-row export leaves the event loop responsive and libuv\'s pool free', async () => {
  const lag = monitorEventLoopDelay({ resolution: 10 })
  const path = join(dir, 'million.csv')
  // libuv's pool (4 threads by default) does the host's file reads: they must not queue
  // behind the export.
  const small = join(dir, 'small.txt')
  await writeCsv([{ a: 1 }], small)
  let reads = 0
  let slowestRead = 0
  let done = false
  const reader = (async () => {
    while (!done) {
      const started = performance.now()
      await Promise.all([readFile(small), readFile(small), readFile(small), readFile(small), readFile(small)])
      slowestRead = Math.max(slowestRead, performance.now() - started)
      reads += 1
      await new Promise((resolve) => setTimeout(resolve, 5))
    }
  })()
  lag.enable()
  const started = performance.now()
  const summary = await writeCsv(rows(1_000_000), path)
  const took = performance.now() - started
  lag.disable()
  done = true
  await reader
  assert.equal(summary.rows, 1_000_000)
  assert.ok(statSync(path).size > 20_000_000)
  const p99 = lag.percentile(99) / 1e6
  const max = lag.max / 1e6
  console.log(`1M rows in ${took.toFixed(0)} ms; event-loop delay p99 ${p99.toFixed(1)} ms, max ${max.toFixed(1)} ms; ${reads} rounds of reads, slowest ${slowestRead.toFixed(1)} ms`)
  // Converting one slice of 1024 rows is the longest the loop is held (a few ms; CI is noisy).
  assert.ok(p99 < 100, `event-loop delay p99 ${p99} ms`)
  assert.ok(reads > 20, `only ${reads} rounds of file reads during the export`)
  assert.ok(slowestRead < 500, `a file read waited ${slowestRead} ms`)
})

test('the JS heap stays flat while 1M generated rows are written (XLSX), and for a 1M-row trip export', async () => {
  global.gc?.()
  const base = process.memoryUsage().heapUsed
  let peak = base
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().heapUsed)
  }, 20)
  try {
    const summary = await writeXlsx(rows(1_000_000), join(dir, 'million.xlsx'))
    assert.equal(summary.rows, 1_000_000)
    const trips = await exportTrips(join(dir, 'trips.csv'), {
      version: 'v2', audience: 'opendata', start: '2026-10-01', end: '2026-11-01', rows: 1_000_000,
    })
    assert.ok(trips.rows > 900_000)
  } finally {
    clearInterval(sampler)
  }
  const grew = (peak - base) / 1024 / 1024
  console.log(`heap: base ${(base / 1048576).toFixed(1)} MB, peak +${grew.toFixed(1)} MB`)
  // The rows of the whole file would be hundreds of MB; a few batches in flight are a few MB
  // (plus what the collector has not reclaimed yet).
  assert.ok(grew < 96, `the heap grew by ${grew} MB`)
})
