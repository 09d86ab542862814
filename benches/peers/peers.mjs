// Node peers of `compare`: one peer per process, so its peak RSS is its own.
//
//     NODE_PATH=.../node_modules node peers.mjs PEER DATA.arrow OUT ROWS REPS
//
// PEER is exceljs (streaming WorkbookWriter) or csv-stringify (stream API into a file). The
// first ROWS rows of the Arrow IPC file are turned into JS rows before the clock starts; prints
// `RESULT rows best_seconds bytes peak_rss_kib`.
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(path.join(process.env.NODE_PATH ?? ".", "x.js"));
const [peer, data, out, rowsArg, repsArg] = process.argv.slice(2);
const rows = Number(rowsArg);
const reps = Number(repsArg);
const HEADER = ["id", "customer_id", "quantity", "balance", "amount", "latitude", "score", "city",
  "status", "created_at"];

function loadRows() {
  const { tableFromIPC } = require("apache-arrow");
  const table = tableFromIPC(fs.readFileSync(data));
  const n = Math.min(rows, table.numRows);
  const cols = HEADER.map((_, i) => table.getChildAt(i));
  const out = new Array(n);
  for (let r = 0; r < n; r++) {
    const row = new Array(10);
    for (let c = 0; c < 7; c++) row[c] = Number(cols[c].get(r));
    row[7] = cols[7].get(r);
    row[8] = cols[8].get(r);
    row[9] = new Date(Number(cols[9].get(r)));
    out[r] = row;
  }
  return out;
}

async function exceljs(data) {
  const ExcelJS = require("exceljs");
  const wb = new ExcelJS.stream.xlsx.WorkbookWriter({ filename: out, useSharedStrings: false });
  const ws = wb.addWorksheet("Sheet1");
  ws.addRow(HEADER).commit();
  for (const row of data) ws.addRow(row).commit();
  ws.getColumn(10).numFmt = "yyyy-mm-dd hh:mm:ss";
  await ws.commit();
  await wb.commit();
}

async function csvStringify(data) {
  const { stringify } = require("csv-stringify");
  const file = fs.createWriteStream(out);
  const s = stringify({ header: true, columns: HEADER, cast: { date: (d) => d.toISOString() } });
  s.pipe(file);
  for (const row of data) {
    if (!s.write(row)) await new Promise((resolve) => s.once("drain", resolve));
  }
  s.end();
  await new Promise((resolve, reject) => { file.on("finish", resolve); file.on("error", reject); });
}

const run = { exceljs, "csv-stringify": csvStringify }[peer];
if (!run) {
  console.error(`unknown peer ${peer}`);
  process.exit(2);
}
const input = loadRows();
let best = Infinity;
for (let i = 0; i < reps; i++) {
  const t0 = process.hrtime.bigint();
  await run(input);
  best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e9);
}
// VmHWM of this process: maxRSS would include the parent's peak (kept across exec).
const hwm = /VmHWM:\s+(\d+)/.exec(fs.readFileSync("/proc/self/status", "utf8"));
const rss = hwm ? Number(hwm[1]) : 0;
console.log(`RESULT ${input.length} ${best} ${fs.statSync(out).size} ${rss}`);
