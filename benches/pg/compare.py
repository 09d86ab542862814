"""PostgreSQL to CSV and XLSX, side by side in one run (issue 18).

    . ~/.cache/export-core/bench-venv/bin/activate      # psycopg[binary], XlsxWriter (benches/peers/setup.sh)
    cargo build --release -p export-core --features cli
    python benches/pg/compare.py --url "$EXPORT_CORE_PG_URL" --rows 1000000

Makes a table of the benchmark's 10-column shape (4 bigint, 3 double precision, 2 short text,
1 timestamptz; `bench_pg.rows`, generated in SQL, the same rows every time) outside the timings,
then runs each line as its own process on the same query, `SELECT * FROM bench_pg.rows`:

- CSV: PostgreSQL's own `COPY (query) TO STDOUT WITH CSV` (through psql's `\\copy`), the
  baseline; export-core's CLI (`export --dataset`); psycopg 3 with a server-side cursor and
  `csv.writer`.
- XLSX: export-core's CLI; psycopg with a server-side cursor and XlsxWriter in constant-memory
  mode.

Each line's time is its wall clock (best of `--reps`), its memory the peak RSS of its own process
(`os.wait4`). Every output is read back: CSV data rows counted with the csv module, XLSX rows
counted in the sheet's XML, streamed out of the zip.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
QUERY = "SELECT * FROM bench_pg.rows"

PSYCOPG_CSV = r"""
import csv, sys, psycopg
url, out, limit = sys.argv[1], sys.argv[2], int(sys.argv[3])
query = "SELECT * FROM bench_pg.rows" + (f" LIMIT {limit}" if limit else "")
with psycopg.connect(url) as conn, conn.cursor(name="bench") as cur, open(out, "w", newline="") as f:
    cur.itersize = 10000
    cur.execute(query)
    w = csv.writer(f)
    w.writerow([d.name for d in cur.description])
    while rows := cur.fetchmany(10000):
        w.writerows(rows)
"""

PSYCOPG_XLSX = r"""
import sys, psycopg, xlsxwriter
url, out, limit = sys.argv[1], sys.argv[2], int(sys.argv[3])
query = "SELECT * FROM bench_pg.rows" + (f" LIMIT {limit}" if limit else "")
book = xlsxwriter.Workbook(out, {"constant_memory": True, "remove_timezone": True})
sheet = book.add_worksheet("rows")
with psycopg.connect(url) as conn, conn.cursor(name="bench") as cur:
    cur.itersize = 10000
    cur.execute(query)
    sheet.write_row(0, 0, [d.name for d in cur.description])
    r = 1
    while rows := cur.fetchmany(10000):
        for row in rows:
            sheet.write_row(r, 0, row)
            r += 1
book.close()
"""


def sql(url: str, statement: str) -> str:
    done = subprocess.run(["psql", url, "-v", "ON_ERROR_STOP=1", "-qAtc", statement],
                          check=True, capture_output=True, text=True)
    return done.stdout.strip()


def make_table(url: str, rows: int) -> None:
    try:
        have = int(sql(url, "SELECT count(*) FROM bench_pg.rows"))
    except subprocess.CalledProcessError:
        have = -1
    if have == rows:
        return
    cities = "ARRAY['Paris','Lyon','Marseille','Lille','Nantes','Rennes','Tours','Dijon']"
    statuses = "ARRAY['new','paid','shipped','returned']"
    sql(url, f"""
        DROP SCHEMA IF EXISTS bench_pg CASCADE; CREATE SCHEMA bench_pg;
        CREATE TABLE bench_pg.rows AS
        SELECT g::bigint AS id, (g * 7919 % 1000000)::bigint AS customer_id,
               (g % 20 + 1)::bigint AS quantity, (g * 104729 % 2000000 - 1000000)::bigint AS balance,
               (g * 31 % 1000000) / 100.0::float8 AS amount,
               42.0 + (g * 7 % 9000000) / 1000000.0::float8 AS latitude,
               (g * 2654435761 % 1000003) / 1000003.0::float8 AS score,
               ({cities})[(g % 8)::int + 1] AS city, ({statuses})[(g % 4)::int + 1] AS status,
               timestamptz '2026-01-01 00:00:00+00' + g * interval '2.6 seconds' AS created_at
        FROM generate_series(1::bigint, {rows}) g;
        ANALYZE bench_pg.rows;""")


def run(argv: list[str]) -> tuple[float, int]:
    """Wall time and peak RSS (KiB) of one child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    err = proc.stderr.read().decode() if proc.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{argv[0]} failed: {err}")
    return elapsed, usage.ru_maxrss


def csv_rows(path: Path) -> int:
    with open(path, newline="") as f:
        return sum(1 for _ in csv.reader(f)) - 1


def xlsx_rows(path: Path) -> int:
    """Data rows of the first sheet: its `<row ` elements but the header's."""
    count, tail = 0, b""
    with zipfile.ZipFile(path) as z, z.open("xl/worksheets/sheet1.xml") as sheet:
        while chunk := sheet.read(1 << 20):
            # 4 bytes of overlap: a match cannot lie inside them, so none is counted twice.
            count += (tail + chunk).count(b"<row ")
            tail = chunk[-4:]
    return count - 1


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--url", default=os.environ.get("EXPORT_CORE_PG_URL"))
    target = os.environ.get("CARGO_TARGET_DIR", str(ROOT / "target"))
    p.add_argument("--cli", default=f"{target}/release/export-core")
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--only", default="csv,xlsx")
    p.add_argument("--slow-rows", type=int, default=200_000, help="rows the Python peers write")
    args = p.parse_args()
    if not args.url:
        raise SystemExit("no database: give --url or set EXPORT_CORE_PG_URL")
    make_table(args.url, args.rows)
    only = set(args.only.split(","))
    work = Path(tempfile.mkdtemp(prefix="export-core-pg-bench-"))
    config = work / "export-core.toml"
    config.write_text(
        f'[job_store]\nurl = "sqlite://{work}/jobs.db"\n[storage]\nurl = "file://{work}/files"\n'
        f'[databases.bench]\nurl = "{args.url}"\ntls = "disable"\n'
        f'[datasets.bench_rows]\ndatabase = "bench"\nquery = "{QUERY}"\n')
    py = sys.executable
    slow = min(args.slow_rows, args.rows)
    lines = []  # (kind, name, rows, argv, output, reader)
    if "csv" in only:
        out = work / "copy.csv"
        lines.append(("csv", "PostgreSQL COPY (query) TO STDOUT WITH CSV (psql \\copy)", args.rows,
                      ["psql", args.url, "-qc", f"\\copy ({QUERY}) TO '{out}' WITH (FORMAT csv, HEADER)"],
                      out, csv_rows))
        out = work / "ec.csv"
        lines.append(("csv", "export-core CLI, CSV", args.rows,
                      [args.cli, "export", "--config", str(config), "--dataset", "bench_rows", "--format", "csv",
                       "--out", str(out), "--quiet"], out, csv_rows))
        out = work / "psycopg.csv"
        lines.append(("csv", "psycopg (server-side cursor) + csv.writer", slow,
                      [py, "-c", PSYCOPG_CSV, args.url, str(out), str(slow)], out, csv_rows))
    if "xlsx" in only:
        out = work / "ec.xlsx"
        lines.append(("xlsx", "export-core CLI, XLSX", args.rows,
                      [args.cli, "export", "--config", str(config), "--dataset", "bench_rows", "--format", "xlsx",
                       "--out", str(out), "--quiet"], out, xlsx_rows))
        out = work / "xlsxwriter.xlsx"
        lines.append(("xlsx", "psycopg (server-side cursor) + XlsxWriter (constant_memory)", slow,
                      [py, "-c", PSYCOPG_XLSX, args.url, str(out), str(slow)], out, xlsx_rows))
    results = []
    for kind, name, rows, argv, out, reader in lines:
        reps = args.reps if rows == args.rows else 1
        best, rss = min(run(argv) for _ in range(reps))
        back = reader(out)
        results.append((kind, name, rows, best, rss, out.stat().st_size, back == rows))
    commit = subprocess.run(["git", "-C", str(ROOT), "log", "-1", "--format=%h %s"],
                            capture_output=True, text=True).stdout.strip()
    print(f"date {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; nproc {os.cpu_count()}; "
          f"load {os.getloadavg()[0]:.1f}; commit {commit}")
    print("| line | rows | best s | rows/s | peak RSS MB | output MB | read back | ratio |")
    print("|---|---:|---:|---:|---:|---:|---|---:|")
    speed = {r[1]: r[2] / r[3] for r in results}
    copy = next((v for k, v in speed.items() if k.startswith("PostgreSQL COPY")), None)
    ours = speed.get("export-core CLI, XLSX")
    for kind, name, rows, best, rss, size, ok in results:
        if kind == "csv" and copy and not name.startswith("PostgreSQL COPY"):
            ratio = f"{copy / speed[name]:.2f}x COPY's time"
        elif kind == "xlsx" and ours and name != "export-core CLI, XLSX":
            ratio = f"export-core {ours / speed[name]:.2f}x faster"
        else:
            ratio = "-"
        print(f"| {name} | {rows} | {best:.3f} | {rows / best / 1e6:.3f}M | {rss / 1024:.0f} | "
              f"{size / 1e6:.1f} | {'yes' if ok else 'NO'} | {ratio} |")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
