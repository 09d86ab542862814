// exportTrips over the sample generator, compared byte for byte with the CLI's export.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const require = createRequire(import.meta.url)
const { exportTrips } = require('..')
const { buffer } = require('node:stream/consumers')

const dir = mkdtempSync(join(tmpdir(), 'export-core-node-trips-'))
const cli = process.env.EXPORT_CORE_CLI

test('V2 operator CSV is the CLI\'s, byte for byte', async () => {
  assert.ok(cli, 'EXPORT_CORE_CLI is not set (scripts/node-test.sh builds the CLI)')
  const expected = join(dir, 'cli.csv')
  execFileSync(cli, [
    'export', '--version', 'v2', '--audience', 'operator', '--format', 'csv', '--rows', '500',
    '--seed', '1', '--start', '2026-10-01', '--end', '2026-10-02',
    '--audit-log', join(dir, 'audit.jsonl'), '--quiet', '--out', expected,
  ], { cwd: dir }) // the CLI's engine keeps ./export-core.db
  const path = join(dir, 'node.csv')
  const args = { version: 'v2', audience: 'operator', format: 'csv', start: '2026-10-01', end: '2026-10-02', rows: 500, seed: 1 }
  const summary = await exportTrips(path, args)
  assert.ok(readFileSync(path).equals(readFileSync(expected)))
  assert.ok(summary.rows > 0)
  assert.equal(summary.bytes, readFileSync(path).length)
  const stream = exportTrips(null, args)
  assert.ok((await buffer(stream)).equals(readFileSync(expected)))
  assert.equal((await stream.summary).rows, summary.rows)
})

test('a bad audience rejects with the core\'s code, and no file is left', async () => {
  const path = join(dir, 'bad.csv')
  await assert.rejects(
    exportTrips(path, { version: 'v2', audience: 'nobody', start: '2026-10-01', end: '2026-10-02', rows: 10 }),
    (err) => err.code.startsWith('EXPORT_INVALID') && /audience/.test(err.message),
  )
  await assert.rejects(
    exportTrips(path, { version: 'v2', audience: 'operator', start: '2026-10-02', end: '2026-10-01', rows: 10 }),
    { code: 'EXPORT_INVALID_PERIOD' },
  )
  assert.equal(existsSync(path), false)
})
