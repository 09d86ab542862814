// Type-checked by `tsc --noEmit` (scripts/node-test.sh): the public declarations in use.
import { Writable } from 'node:stream'
import {
  writeCsv, writeXlsx, writeJson, exportTrips, sampleTrips, Engine,
  type Summary, type ExportError, type ExportStream, type Job, type JobOutcome, type DownloadStream,
} from '../export-core.js'

async function* rows(): AsyncGenerator<{ sku: string; stock: number }> {
  yield { sku: 'A-1', stock: 3 }
}

async function main(): Promise<void> {
  const a: Summary = await writeCsv([{ sku: 'A-1', stock: 3 }], 'out.csv', { bom: true, delimiter: ';' })
  const n: number = a.rows + a.bytes + a.rowsRead
  const stream: ExportStream = writeCsv(rows(), null, { onProgress: (r: number) => void r })
  const s: Summary = await stream.summary
  await writeCsv([['A-1', 3]], new Writable(), { columns: ['sku', 'stock'], keepOpen: true, signal: AbortSignal.timeout(1000) })
  await writeXlsx(null, 'book.xlsx', { sheets: { products: rows(), raw: new Uint8Array() }, headerStyle: { bold: true, fontColor: null } })
  writeJson([{ id: 1 }], undefined, { lines: true, pretty: false }).pipe(new Writable())
  const trips = await exportTrips('t.csv', { version: 'v2', audience: 'operator', start: '2026-10-01', end: '2026-10-02' })
  const name: string | undefined = trips.fileName
  const ipc: Buffer = await sampleTrips({ start: '2026-10-01', end: '2026-10-02', rows: 10 })
  // @ts-expect-error: an options object of the wrong type
  await writeCsv([], 'x.csv', { bom: 'yes' })

  const engine = new Engine({ job_store: { url: 'sqlite://jobs.db' } })
  const who = { userId: 'u-1', organisation: 'org-1', scopes: ['export.create'] }
  const job: Job = await engine.create(who, { schema: 'trip', version: 'v2', audience: 'opendata', format: 'csv' })
  const outcome: JobOutcome | null = await engine.runOnce({ data: async () => ipc, onProgress: (id, r, e) => void [id, r, e] })
  const file: DownloadStream = await engine.download(who, job.id)
  const size: number = file.size
  try {
    await engine.get(who, 'x')
  } catch (e) {
    const code: string = (e as ExportError).code
    void code
  }
  void n, s, name, outcome, size
}
void main
