// Type-checked by `tsc --noEmit` (scripts/node-test.sh): the generated declarations in use.
import { writeCsv, writeXlsx, writeJson, exportTrips, type Summary, type ExportError } from '../index.js'

async function main(): Promise<void> {
  const a: Summary = await writeCsv([{ sku: 'A-1', stock: 3 }], null, { bom: true, delimiter: ';' })
  const n: number = a.rows + a.bytes + a.rowsRead
  const data: Buffer | undefined = a.data
  await writeCsv([['A-1', 3]], 'out.csv', { columns: ['sku', 'stock'] })
  await writeXlsx(new Uint8Array(), undefined, { sheetName: 'Stock', headerStyle: { bold: true, fontColor: null } })
  await writeJson([{ id: 1 }], undefined, { lines: true, pretty: false })
  const trips = await exportTrips(null, { version: 'v2', audience: 'operator', start: '2026-10-01', end: '2026-10-02' })
  const name: string | undefined = trips.fileName
  // @ts-expect-error: an options object of the wrong type
  await writeCsv([], null, { bom: 'yes' })
  try {
    await writeCsv('rows' as never)
  } catch (e) {
    const code: string = (e as ExportError).code
    void code
  }
  void n, data, name
}
void main
