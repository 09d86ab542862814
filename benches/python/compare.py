#!/usr/bin/env python3
"""Side-by-side benchmark of the `export_core` Python package against Python peers.

    python benches/python/compare.py --rows 1000000 [--only csv,xlsx,jsonl] [--out-dir DIR]

One run measures every line, so the ratios come from the same conditions on a shared, noisy
machine. The data (a product catalogue of 10 columns, seeded) is generated once, in a process of
its own, into an Arrow IPC file. Then each line runs in a fresh subprocess that loads its input
from that file (a pyarrow.Table, a polars or pandas DataFrame, or a list of dicts) *before* the
clock starts, and times only the write, up to --reps times (fewer once --rep-budget seconds of
writes are spent). The pure-Rust baseline is the `export-core convert` CLI on the same IPC file,
timed as a whole process (start-up and reading the file included), --reps processes.

Peak RSS is per process: the Python children read VmHWM from /proc/self/status (ru_maxrss of a
child would carry the parent's high-water mark across fork+exec); "write +MB" is the peak during
the timed write above the RSS when it started (the high-water mark is reset through
/proc/self/clear_refs before each write). The CLI's peak RSS comes from GNU time (%M).

Every output is checked after its line: CSV (line count, the first 100 records parsed with csv,
the last record's id), XLSX (openpyxl read-only: dimension, header, row count, last row), JSON
Lines (line count, json.loads of the first and last line).

XLSX: every XLSX line uses the same row count. Unless --xlsx-rows is given, a pilot at 50,000
rows projects the Python XLSX peers to --rows; if one would take over 180 s, all XLSX lines use
200,000 rows (and the table says so).

The orchestrating process imports only the standard library, so it stays small.
"""

from __future__ import annotations

import argparse
import csv
import gc
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CLI = os.environ.get(
    "EXPORT_CORE_CLI",
    os.path.join(os.path.expanduser("~"), ".cache/export-core/target/release/export-core"),
)
COLUMNS = ["id", "sku", "name", "price", "stock", "active", "category", "created_at", "weight",
           "supplier"]
SEED = 20240601
EXT = {"csv": "csv", "xlsx": "xlsx", "jsonl": "jsonl"}
XLSX_FALLBACK_ROWS = 200_000
XLSX_LIMIT_S = 180.0
PILOT_ROWS = 50_000

# id: (format, label, input kind, reference line id or None)
# input kinds: dicts, arrow, polars, pandas, cli
LINES = {
    # CSV
    "ec_dicts_csv": ("csv", "export_core.write_csv", "dicts", "dictwriter_csv"),
    "ec_arrow_csv": ("csv", "export_core.write_csv", "pyarrow.Table", "polars_csv"),
    "ec_polars_csv": ("csv", "export_core.write_csv", "polars.DataFrame", "polars_csv"),
    "cli_csv": ("csv", "Rust CLI `convert`", "Arrow IPC file", None),
    "dictwriter_csv": ("csv", "csv.DictWriter", "dicts", None),
    "pandas_csv": ("csv", "pandas DataFrame.to_csv", "pandas.DataFrame", None),
    "polars_csv": ("csv", "polars write_csv", "polars.DataFrame", None),
    # XLSX
    "ec_arrow_xlsx": ("xlsx", "export_core.write_xlsx", "pyarrow.Table", "xlsxwriter_xlsx"),
    "ec_dicts_xlsx": ("xlsx", "export_core.write_xlsx", "dicts", "xlsxwriter_xlsx"),
    "cli_xlsx": ("xlsx", "Rust CLI `convert`", "Arrow IPC file", None),
    "xlsxwriter_xlsx": ("xlsx", "XlsxWriter constant_memory, write_row", "dicts", None),
    "openpyxl_xlsx": ("xlsx", "openpyxl write_only, append", "dicts", None),
    "pandas_xlsx": ("xlsx", "pandas to_excel (xlsxwriter)", "pandas.DataFrame", None),
    "polars_xlsx": ("xlsx", "polars write_excel", "polars.DataFrame", None),
    # JSON Lines
    "ec_arrow_jsonl": ("jsonl", "export_core.write_json(lines=True)", "pyarrow.Table",
                       "polars_jsonl"),
    "cli_jsonl": ("jsonl", "Rust CLI `convert`", "Arrow IPC file", None),
    "polars_jsonl": ("jsonl", "polars write_ndjson", "polars.DataFrame", None),
    "pandas_jsonl": ("jsonl", "pandas to_json(records, lines)", "pandas.DataFrame", None),
}
SHORT = {"dictwriter_csv": "csv.DictWriter", "polars_csv": "polars", "xlsxwriter_xlsx": "XlsxWriter",
         "polars_jsonl": "polars"}
KIND_OF_INPUT = {"dicts": "dicts", "pyarrow.Table": "arrow", "polars.DataFrame": "polars",
                 "pandas.DataFrame": "pandas", "Arrow IPC file": "cli"}
PYTHON_XLSX_PEERS = ["xlsxwriter_xlsx", "openpyxl_xlsx", "pandas_xlsx", "polars_xlsx"]


# --------------------------------------------------------------------------------------------
# /proc helpers (Linux)

def _status(key: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])  # KiB
    return 0


def reset_hwm() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


# --------------------------------------------------------------------------------------------
# Data preparation (own process)

def prep(path: str, rows: int) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.ipc as ipc

    rng = np.random.default_rng(SEED)
    adjectives = ["Classic", "Modern", "Compact", "Deluxe", "Rustic", "Slim", "Heavy-duty",
                  "Vintage", "Ergonomic", "Foldable", "Premium", "Basic", "Outdoor", "Smart",
                  "Mini", "Large"]
    nouns = ["Chair", "Table", "Lamp", "Shelf", "Desk", "Sofa", "Stool", "Cabinet", "Bench",
             "Mirror", "Rug", "Bed frame", "Wardrobe", "Monitor stand", "Drawer", "Clock"]
    materials = ["oak", "walnut", "steel", "pine", "glass", "bamboo", "leather", "marble"]
    colours = ["black", "white", "grey", "natural", "red", "blue", "green"]
    pool = []
    for a in adjectives:
        for n in nouns:
            pool.append(f"{a} {n}")                                  # plain
            for m in materials:
                pool.append(f"{a} {n}, {m}")                         # a comma
            for c in colours[:3]:
                pool.append(f'{n} "{a}" in {c}')                     # quotes
            pool.append(f'{a} {n} 24", {colours[len(n) % 7]}')      # quote and comma
    pool = np.array(pool, dtype=object)
    categories = np.array([f"{d}/{s}" for d in ["Home & Garden", "Office", "Kids", "Outdoor",
                                                 "Lighting", "Storage", "Decor", "Kitchen"]
                           for s in ["Furniture", "Accessories", "Sets", "Spare parts",
                                     "Clearance"]], dtype=object)
    suppliers = np.array([f"{p} {q} {r}" for p in ["Acme", "Nordic", "Atlas", "Pioneer",
                                                    "Summit", "Harbor", "Crescent", "Orion",
                                                    "Maple", "Granite"]
                          for q in ["Supply", "Trading", "Home", "Wood", "Works"]
                          for r in ["Ltd", "GmbH", "SAS", "Inc."]], dtype=object)

    ids = np.arange(1, rows + 1, dtype=np.int64)
    sku = np.char.add("SKU-", np.char.zfill(ids.astype(str), 8)).astype(object)
    names = pool[rng.integers(0, len(pool), rows)]
    price = np.round(rng.uniform(0.5, 2500.0, rows), 2)
    stock = rng.integers(0, 5000, rows, dtype=np.int64)
    active = rng.random(rows) < 0.85
    category = categories[rng.integers(0, len(categories), rows)]
    start_us = 1_577_836_800_000_000  # 2020-01-01T00:00:00 in microseconds
    span_us = 5 * 365 * 24 * 3600 * 1_000_000
    created = start_us + rng.integers(0, span_us, rows, dtype=np.int64)
    weight = np.round(rng.uniform(0.1, 80.0, rows), 3)
    weight_null = rng.random(rows) < 0.1
    supplier = suppliers[rng.integers(0, len(suppliers), rows)]

    table = pa.table({
        "id": pa.array(ids, pa.int64()),
        "sku": pa.array(sku, pa.string()),
        "name": pa.array(names, pa.string()),
        "price": pa.array(price, pa.float64()),
        "stock": pa.array(stock, pa.int64()),
        "active": pa.array(active, pa.bool_()),
        "category": pa.array(category, pa.string()),
        "created_at": pa.array(created, pa.timestamp("us")),
        "weight": pa.array(weight, pa.float64(), mask=weight_null),
        "supplier": pa.array(supplier, pa.string()),
    })
    assert table.column_names == COLUMNS
    write_ipc(path, table)


def write_ipc(path: str, table) -> None:
    import pyarrow.ipc as ipc
    tmp = path + ".tmp"
    with ipc.new_file(tmp, table.schema) as w:
        for batch in table.to_batches(max_chunksize=65_536):
            w.write_batch(batch)
    os.replace(tmp, path)


def head_ipc(src: str, dst: str, rows: int) -> None:
    write_ipc(dst, load_table(src, rows))


def load_table(path: str, rows: int):
    """The first `rows` rows of the IPC file, reading only the batches that hold them."""
    import pyarrow as pa
    import pyarrow.ipc as ipc
    with ipc.open_file(path) as f:
        batches, n = [], 0
        for i in range(f.num_record_batches):
            if n >= rows:
                break
            b = f.get_batch(i)
            batches.append(b)
            n += b.num_rows
        table = pa.Table.from_batches(batches, schema=f.schema)
    if table.num_rows > rows:
        table = table.slice(0, rows)
    return table


# --------------------------------------------------------------------------------------------
# One line, in a fresh process

def make_runner(line: str, data, out: str):
    fmt = LINES[line][0]
    if line.startswith("ec_"):
        import export_core as ec
        if fmt == "csv":
            return lambda: ec.write_csv(data, out)
        if fmt == "xlsx":
            return lambda: ec.write_xlsx(data, out)
        return lambda: ec.write_json(data, out, lines=True)
    if line == "dictwriter_csv":
        def run():
            with open(out, "w", newline="", encoding="utf-8") as f:
                w = csv.DictWriter(f, fieldnames=COLUMNS)
                w.writeheader()
                w.writerows(data)
        return run
    if line == "pandas_csv":
        return lambda: data.to_csv(out, index=False)
    if line == "polars_csv":
        return lambda: data.write_csv(out)
    if line == "xlsxwriter_xlsx":
        import xlsxwriter

        def run():
            wb = xlsxwriter.Workbook(out, {"constant_memory": True,
                                           "default_date_format": "yyyy-mm-dd hh:mm:ss"})
            ws = wb.add_worksheet()
            ws.write_row(0, 0, COLUMNS)
            write_row = ws.write_row
            for r, d in enumerate(data, 1):
                write_row(r, 0, d.values())
            wb.close()
        return run
    if line == "openpyxl_xlsx":
        import openpyxl

        def run():
            wb = openpyxl.Workbook(write_only=True)
            ws = wb.create_sheet()
            ws.append(COLUMNS)
            append = ws.append
            for d in data:
                append(list(d.values()))
            wb.save(out)
        return run
    if line == "pandas_xlsx":
        return lambda: data.to_excel(out, index=False, engine="xlsxwriter")
    if line == "polars_xlsx":
        return lambda: data.write_excel(out)
    if line == "polars_jsonl":
        return lambda: data.write_ndjson(out)
    if line == "pandas_jsonl":
        return lambda: data.to_json(out, orient="records", lines=True, date_format="iso",
                                    date_unit="us")
    raise SystemExit(f"unknown line {line}")


def child(line: str, data_path: str, out: str, rows: int, reps: int, budget: float) -> None:
    kind = KIND_OF_INPUT[LINES[line][2]]
    t0 = time.perf_counter()
    table = load_table(data_path, rows)
    if kind == "arrow":
        data = table
    elif kind == "dicts":
        data = table.to_pylist()
    elif kind == "polars":
        import polars as pl
        data = pl.from_arrow(table)
    elif kind == "pandas":
        data = table.to_pandas()
    else:
        raise SystemExit(f"no child for {kind}")
    if kind != "arrow":
        del table
    assert len(data) == rows, (len(data), rows)
    run = make_runner(line, data, out)
    gc.collect()
    prep_s = time.perf_counter() - t0
    peak = _status("VmHWM")
    walls, write_peaks = [], []
    for _ in range(reps):
        if os.path.exists(out):
            os.unlink(out)
        gc.collect()
        reset = reset_hwm()
        base = _status("VmRSS")
        t = time.perf_counter()
        run()
        walls.append(time.perf_counter() - t)
        hwm = _status("VmHWM")
        peak = max(peak, hwm)
        write_peaks.append(hwm - base if reset else None)
        if sum(walls) >= budget:
            break
    print("RESULT " + json.dumps({
        "walls": walls, "bytes": os.path.getsize(out), "peak_kib": peak,
        "write_kib": max((w for w in write_peaks if w is not None), default=None),
        "prep_s": prep_s, "base_kib": base,
    }), flush=True)


# --------------------------------------------------------------------------------------------
# Output checks (own process, after the timing)

def check(fmt: str, path: str, rows: int) -> str:
    if fmt == "csv":
        n = 0
        with open(path, "rb") as f:
            while True:
                chunk = f.read(1 << 24)
                if not chunk:
                    break
                n += chunk.count(b"\n")
        if n != rows + 1:
            return f"FAIL {n} lines, expected {rows + 1}"
        with open(path, newline="", encoding="utf-8-sig") as f:
            r = csv.reader(f)
            header = next(r)
            if header != COLUMNS:
                return f"FAIL header {header}"
            first = [next(r) for _ in range(min(100, rows))]
        if any(len(rec) != 10 for rec in first) or first[0][0] != "1":
            return "FAIL first records"
        last = next(csv.reader([_last_line(path)]))
        if len(last) != 10 or last[0] != str(rows):
            return f"FAIL last record {last}"
        return f"ok: {n} lines, 100 parsed, last id {last[0]}"
    if fmt == "jsonl":
        with open(path, "rb") as f:
            first = json.loads(f.readline())
        n = 0
        with open(path, "rb") as f:
            while True:
                chunk = f.read(1 << 24)
                if not chunk:
                    break
                n += chunk.count(b"\n")
        last = json.loads(_last_line(path))
        if n != rows or first.get("id") != 1 or last.get("id") != rows:
            return f"FAIL {n} lines, first id {first.get('id')}, last id {last.get('id')}"
        if sorted(first) != sorted(COLUMNS) or len(last) != 10:
            return f"FAIL keys {sorted(first)}"
        return f"ok: {n} lines, first/last parsed, last id {last['id']}"
    if fmt == "xlsx":
        import openpyxl
        wb = openpyxl.load_workbook(path, read_only=True)
        ws = wb.worksheets[0]
        dim = ws.calculate_dimension() if ws.max_row else "unsized"
        count, header, last = 0, None, None
        for values in ws.iter_rows(values_only=True):
            if header is None:
                header = list(values)
            count += 1
            last = values
        wb.close()
        want = f"A1:J{rows + 1}"
        if header != COLUMNS:
            return f"FAIL header {header}"
        if count != rows + 1 or last is None or len(last) != 10 or last[0] != rows:
            return f"FAIL {count} rows, last {last}"
        if dim == "unsized":
            dim = "no <dimension>"
        elif dim != want:
            return f"FAIL dimension {dim}, expected {want}"
        return f"ok: {dim}, {count} rows read, last id {last[0]}"
    return "FAIL unknown format"


def _last_line(path: str) -> str:
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        size = f.tell()
        f.seek(max(0, size - 65536))
        tail = f.read().rstrip(b"\r\n")
    return tail.rsplit(b"\n", 1)[-1].decode("utf-8")


# --------------------------------------------------------------------------------------------
# Orchestration

def run_child(args: list[str], timeout: float) -> dict:
    cmd = [sys.executable, os.path.abspath(__file__)] + args
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    for line in p.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise RuntimeError(f"{' '.join(args)} failed ({p.returncode}):\n{p.stderr[-3000:]}")


def run_python_line(line: str, data: str, out: str, rows: int, reps: int, budget: float,
                    timeout: float) -> dict:
    r = run_child(["--_child", line, "--_data", data, "--_out", out, "--rows", str(rows),
                   "--reps", str(reps), "--rep-budget", str(budget)], timeout)
    return r


def run_cli_line(fmt: str, data: str, out: str, reps: int, budget: float, timeout: float) -> dict:
    walls, peaks = [], []
    with tempfile.NamedTemporaryFile("r", suffix=".time") as tf:
        for _ in range(reps):
            if os.path.exists(out):
                os.unlink(out)
            cmd = ["/usr/bin/time", "-f", "%M", "-o", tf.name, CLI, "convert", "--input", data,
                   "--format", fmt, "--out", out, "-q"]
            t = time.perf_counter()
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
            walls.append(time.perf_counter() - t)
            if p.returncode != 0:
                raise RuntimeError(f"CLI failed: {p.stderr[-2000:]}")
            with open(tf.name) as f:
                peaks.append(int(f.read().split()[-1]))
            if sum(walls) >= budget:
                break
    return {"walls": walls, "bytes": os.path.getsize(out), "peak_kib": max(peaks),
            "write_kib": None, "prep_s": 0.0}


def sh(cmd: str) -> str:
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True).stdout.strip()
    except OSError:
        return ""


def versions() -> str:
    code = ("import importlib.metadata as m\n"
            "for p in ['export_core','pyarrow','polars','pandas','numpy','XlsxWriter','openpyxl']:\n"
            "    try: print(p+'=='+m.version(p))\n"
            "    except Exception: print(p+' missing')\n")
    return ", ".join(subprocess.run([sys.executable, "-c", code], capture_output=True,
                                    text=True).stdout.split())


def fmt_num(x: float | None, nd: int = 2) -> str:
    return "—" if x is None else f"{x:,.{nd}f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--only", default="csv,xlsx,jsonl", help="comma-separated: csv,xlsx,jsonl")
    ap.add_argument("--out-dir", default=None, help="where data, outputs and results.md go "
                    "(default: a new temporary directory)")
    ap.add_argument("--xlsx-rows", type=int, default=None,
                    help="rows for every XLSX line (default: --rows, or 200,000 when a pilot "
                         "projects a Python peer over 180 s)")
    ap.add_argument("--reps", type=int, default=3, help="timed writes per line (best is used)")
    ap.add_argument("--rep-budget", type=float, default=30.0,
                    help="stop repeating a line once its writes took this many seconds")
    ap.add_argument("--timeout", type=float, default=3600.0, help="per child process, seconds")
    ap.add_argument("--keep", action="store_true", help="keep the output files")
    ap.add_argument("--_child")
    ap.add_argument("--_data")
    ap.add_argument("--_out")
    ap.add_argument("--_prep")
    ap.add_argument("--_head", nargs=2)
    ap.add_argument("--_check", nargs=2)
    a = ap.parse_args()

    if a._prep:
        prep(a._prep, a.rows)
        print("RESULT {}")
        return
    if a._head:
        head_ipc(a._head[0], a._head[1], a.rows)
        print("RESULT {}")
        return
    if a._child:
        child(a._child, a._data, a._out, a.rows, a.reps, a.rep_budget)
        return
    if a._check:
        print("RESULT " + json.dumps({"check": check(a._check[0], a._check[1], a.rows)}))
        return

    formats = [f.strip() for f in a.only.split(",") if f.strip()]
    for f in formats:
        if f not in EXT:
            ap.error(f"unknown format {f}")
    if not os.access(CLI, os.X_OK):
        ap.error(f"the Rust CLI is not at {CLI} (set EXPORT_CORE_CLI)")
    out_dir = a.out_dir or tempfile.mkdtemp(prefix="export-core-bench-")
    os.makedirs(out_dir, exist_ok=True)
    rows = a.rows
    log = lambda *m: print(*m, file=sys.stderr, flush=True)  # noqa: E731
    load_start = os.getloadavg()
    started = time.time()

    data = os.path.join(out_dir, f"catalogue-{rows}.arrow")
    t = time.perf_counter()
    run_child(["--_prep", data, "--rows", str(rows)], a.timeout)
    log(f"data: {rows:,} rows -> {data} ({os.path.getsize(data) / 1e6:.1f} MB, "
        f"{time.perf_counter() - t:.1f} s)")

    notes = []
    xlsx_rows = rows
    if "xlsx" in formats:
        if a.xlsx_rows is not None:
            xlsx_rows = min(a.xlsx_rows, rows)
            if xlsx_rows != rows:
                notes.append(f"XLSX lines use {xlsx_rows:,} rows (--xlsx-rows).")
        elif rows > XLSX_FALLBACK_ROWS:
            pilot = min(PILOT_ROWS, rows)
            projections = {}
            for line in PYTHON_XLSX_PEERS:
                out = os.path.join(out_dir, f"pilot-{line}.xlsx")
                r = run_python_line(line, data, out, pilot, 1, 0.0, a.timeout)
                projections[line] = r["walls"][0] * rows / pilot
                os.unlink(out)
                log(f"pilot {line}: {r['walls'][0]:.2f} s at {pilot:,} rows -> "
                    f"~{projections[line]:.0f} s projected at {rows:,}")
            slow = {k: v for k, v in projections.items() if v > XLSX_LIMIT_S}
            proj = ", ".join(f"{LINES[k][1]} ~{v:.0f} s" for k, v in projections.items())
            if slow:
                xlsx_rows = XLSX_FALLBACK_ROWS
                notes.append(
                    f"XLSX lines use {xlsx_rows:,} rows ({xlsx_rows * 10:,} cells), not "
                    f"{rows:,}: a {pilot:,}-row pilot projected Python peers at {rows:,} rows "
                    f"to {proj}, over the {XLSX_LIMIT_S:.0f} s limit.")
            else:
                notes.append(f"XLSX pilot at {pilot:,} rows projected {proj} at {rows:,} rows "
                             f"(all under {XLSX_LIMIT_S:.0f} s), so XLSX uses {rows:,} rows.")
    xlsx_data = data
    if "xlsx" in formats and xlsx_rows != rows:
        xlsx_data = os.path.join(out_dir, f"catalogue-{xlsx_rows}.arrow")
        run_child(["--_head", data, xlsx_data, "--rows", str(xlsx_rows)], a.timeout)

    results = {}
    for line, (fmt, label, inp, _ref) in LINES.items():
        if fmt not in formats:
            continue
        n = xlsx_rows if fmt == "xlsx" else rows
        src = xlsx_data if fmt == "xlsx" else data
        out = os.path.join(out_dir, f"{line}.{EXT[fmt]}")
        log(f"{line}: {label} from {inp}, {n:,} rows ...")
        try:
            if inp == "Arrow IPC file":
                r = run_cli_line(fmt, src, out, a.reps, a.rep_budget, a.timeout)
            else:
                r = run_python_line(line, src, out, n, a.reps, a.rep_budget, a.timeout)
        except Exception as e:  # a failing line is reported, the others still run
            log(f"  FAILED: {e}")
            results[line] = {"error": str(e).splitlines()[0][:120], "rows": n}
            continue
        r["rows"] = n
        r["check"] = run_child(["--_check", fmt, out, "--rows", str(n)], a.timeout)["check"]
        results[line] = r
        log(f"  best {min(r['walls']):.3f} s over {len(r['walls'])} run(s); {r['check']}")
        if not a.keep:
            os.unlink(out)

    md = render(results, formats, rows, xlsx_rows, notes, a, load_start, started)
    print(md)
    with open(os.path.join(out_dir, "results.md"), "w") as f:
        f.write(md)
    with open(os.path.join(out_dir, "results.json"), "w") as f:
        json.dump({"rows": rows, "xlsx_rows": xlsx_rows, "lines": results}, f, indent=1)
    log(f"wrote {os.path.join(out_dir, 'results.md')}")


def best(results: dict, line: str) -> float | None:
    r = results.get(line)
    return min(r["walls"]) if r and "walls" in r else None


def median(results: dict, line: str) -> float | None:
    r = results.get(line)
    return statistics.median(r["walls"]) if r and "walls" in r else None


def render(results, formats, rows, xlsx_rows, notes, a, load_start, started) -> str:
    out = []
    out.append(f"## export_core vs Python peers — {rows:,} rows × 10 columns"
               + (f" (XLSX: {xlsx_rows:,} rows)" if "xlsx" in formats and xlsx_rows != rows
                  else ""))
    out.append("")
    out.append("| Format | Line | Input | Rows | Best s | Median s | Runs | Rows/s | Output MB "
               "| Peak RSS MB | Write +MB | Time ÷ CLI | Speed-up vs ref | Check |")
    out.append("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|")
    for line, (fmt, label, inp, ref) in LINES.items():
        if fmt not in formats or line not in results:
            continue
        r = results[line]
        if "error" in r:
            out.append(f"| {fmt.upper()} | {label} | {inp} | {r['rows']:,} | failed | | | | | | "
                       f"| | | {r['error']} |")
            continue
        b, m = best(results, line), median(results, line)
        cli = best(results, f"cli_{fmt}")
        vs_cli = f"{b / cli:.2f}×" if cli else "—"
        if ref and best(results, ref):
            speed = f"{best(results, ref) / b:.1f}× vs {SHORT[ref]}"
        else:
            speed = ""
        wr = r.get("write_kib")
        out.append(
            f"| {fmt.upper()} | {'**' + label + '**' if line.startswith('ec_') else label} "
            f"| {inp} | {r['rows']:,} | {b:.3f} | {m:.3f} | {len(r['walls'])} "
            f"| {r['rows'] / b:,.0f} | {r['bytes'] / 1e6:,.1f} | {r['peak_kib'] / 1024:,.0f} "
            f"| {'—' if wr is None else f'{wr / 1024:,.0f}'} | {vs_cli} | {speed} "
            f"| {r['check']} |")
    out.append("")
    out.append("### Targets (ratios of best times; median-based in brackets)")
    out.append("")

    def ratio(x, y, fn):
        bx, by = fn(results, x), fn(results, y)
        return None if bx is None or by is None else bx / by

    targets = []
    if "csv" in formats:
        targets.append(("CSV: export_core from dicts ≥ 3× faster than csv.DictWriter",
                        "dictwriter_csv", "ec_dicts_csv", ">=", 3.0, "×"))
        targets.append(("CSV: export_core from pyarrow.Table time ≤ 1.2× the Rust CLI",
                        "ec_arrow_csv", "cli_csv", "<=", 1.2, "× CLI"))
        targets.append(("CSV: export_core from polars.DataFrame time ≤ 1.2× the Rust CLI",
                        "ec_polars_csv", "cli_csv", "<=", 1.2, "× CLI"))
    if "xlsx" in formats:
        targets.append(("XLSX: export_core from pyarrow.Table time ≤ 1.2× the Rust CLI",
                        "ec_arrow_xlsx", "cli_xlsx", "<=", 1.2, "× CLI"))
        targets.append(("XLSX: export_core from pyarrow.Table ≥ 10× faster than XlsxWriter",
                        "xlsxwriter_xlsx", "ec_arrow_xlsx", ">=", 10.0, "×"))
        targets.append(("XLSX: export_core from dicts ≥ 10× faster than XlsxWriter",
                        "xlsxwriter_xlsx", "ec_dicts_xlsx", ">=", 10.0, "×"))
    if "jsonl" in formats:
        targets.append(("JSONL: export_core from pyarrow.Table time ≤ 1.2× the Rust CLI",
                        "ec_arrow_jsonl", "cli_jsonl", "<=", 1.2, "× CLI"))
    for text, x, y, op, goal, unit in targets:
        rb, rm = ratio(x, y, best), ratio(x, y, median)
        if rb is None:
            out.append(f"- {text}: not measured")
            continue
        met = rb >= goal if op == ">=" else rb <= goal
        out.append(f"- {text}: **{rb:.2f}{unit}** ({rm:.2f}{unit}) — "
                   f"{'met' if met else 'NOT met'}")
    out.append("")
    out.append("### Notes")
    out.append("")
    for n in notes:
        out.append(f"- {n}")
    out.append(
        "- Each line runs in a fresh process; its input is loaded from the Arrow IPC file and "
        "built (list of dicts via `Table.to_pylist()`, `pl.from_arrow`, `Table.to_pandas()`) "
        "before the clock starts. Only the write call is timed; best of up to "
        f"{a.reps} writes in that process (fewer once {a.rep_budget:.0f} s were spent). The "
        "Rust CLI is timed as a whole process (start-up, reading the IPC file, writing), "
        f"best of up to {a.reps} processes.")
    out.append(
        "- Peak RSS MB is the whole process's high-water mark (VmHWM; includes the input data "
        "held in memory); Write +MB is the peak during the write above the RSS when it "
        "started. For the CLI, the peak is GNU time's %M.")
    out.append(
        "- Time ÷ CLI compares with the same format's CLI line. Speed-up vs ref = the "
        "reference's best time ÷ this line's best time.")
    out.append(
        "- export_core keeps its defaults (formula guard on, RFC 3339 timestamps); XlsxWriter "
        "writes date-times with `default_date_format`; pandas to_json uses "
        "`date_format='iso', date_unit='us'`; polars write_excel and pandas to_excel use their "
        "defaults (not constant-memory).")
    load_end = os.getloadavg()
    model = sh("lscpu | sed -n 's/^Model name: *//p'") or platform.processor()
    mem = sh("free -g | awk '/^Mem:/{print $2}'")
    out.append(
        f"- Machine: {os.cpu_count()} CPUs, {model}, {mem} GiB RAM; Python "
        f"{platform.python_version()}; load average {load_start[0]:.2f} at start, "
        f"{load_end[0]:.2f} at end; run took {(time.time() - started) / 60:.1f} min.")
    out.append(f"- Versions: {versions()}.")
    out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    main()
