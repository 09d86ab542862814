"""PostgreSQL to CSV and XLSX, side by side in one run (issue 18).

    benches/peers/setup.sh          # the bench venv, with psycopg[binary] and XlsxWriter
    cargo build --release -p export-core --features cli
    python3 benches/pg/compare.py --url "$EXPORT_CORE_PG_URL" --rows 1000000

(it re-executes itself under $HOME/.cache/export-core/bench-venv/bin/python when psycopg or
XlsxWriter is not importable by the python that started it).

Makes a table of the benchmark's 10-column shape (4 bigint, 3 double precision, 2 short text,
1 timestamptz; `bench_pg.rows`, generated in SQL, the same rows every time) outside the timings,
then runs each line as its own process on the same query, `SELECT * FROM bench_pg.rows`:

- CSV: PostgreSQL's own `COPY (query) TO STDOUT WITH CSV` (through psql's `\\copy`), the
  baseline; export-core's CLI (`export --dataset`); psycopg 3 with a server-side cursor and
  `csv.writer`.
- XLSX: export-core's CLI; psycopg with a server-side cursor and XlsxWriter in constant-memory
  mode.

Each line's time is its wall clock (best of `--reps`), its memory the peak RSS of its own process
(`os.wait4`, in a small spawner process so that this script's own size is not counted). Every
output is read back: CSV data rows counted with the csv module, XLSX rows counted in the sheet's
XML, streamed out of the zip.
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


# A child's ru_maxrss on Linux starts at its parent's resident size when it was forked (vfork or
# fork: the kernel carries the old address space's peak into exec), so a child spawned from this
# script (30+ MB once psycopg is imported) could never report less than that. Each line is
# therefore forked by this small spawner (`python -I -S`, about 5 MB), which times the child and
# reads its peak RSS with os.wait4.
SPAWNER = r"""
import os, sys, time
err = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
null = os.open(os.devnull, os.O_WRONLY)
argv = sys.argv[2:]
start = time.perf_counter()
pid = os.fork()
if pid == 0:
    try:
        os.dup2(null, 1)
        os.dup2(err, 2)
        os.execvp(argv[0], argv)
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
elapsed = time.perf_counter() - start
print(elapsed, usage.ru_maxrss, os.waitstatus_to_exitcode(status))
"""


def run(argv: list[str]) -> tuple[float, int]:
    """Wall time and peak RSS (KiB) of one child process."""
    # Standard error goes to a file, not a pipe: a chatty child cannot block on a full pipe.
    with tempfile.NamedTemporaryFile() as err:
        done = subprocess.run([sys.executable, "-I", "-S", "-c", SPAWNER, err.name, *argv],
                              capture_output=True, text=True, check=True)
        elapsed, rss, code = done.stdout.split()
        if int(code) != 0:
            err.seek(0)
            raise SystemExit(f"{argv[0]} failed ({code}): {err.read().decode(errors='replace')}")
    return float(elapsed), int(rss)


def csv_rows(path: Path) -> int:
    with open(path, newline="") as f:
        return sum(1 for _ in csv.reader(f)) - 1


def xlsx_rows(path: Path) -> int:
    """Data rows of the workbook: the `<row ` elements of its sheets, less each sheet's header.

    Past 1,048,575 data rows (a worksheet's limit) export-core continues on `sheet2.xml`, ...,
    each with its header row; `xl/worksheets/sheet1.xml` must exist."""
    total = 0
    with zipfile.ZipFile(path) as z:
        names = [n for n in z.namelist() if n.startswith("xl/worksheets/sheet") and n.endswith(".xml")]
        if "xl/worksheets/sheet1.xml" not in names:
            return -1
        for name in names:
            count, tail = 0, b""
            with z.open(name) as sheet:
                while chunk := sheet.read(1 << 20):
                    # 4 bytes of overlap: a match cannot lie inside them, so none is counted twice.
                    count += (tail + chunk).count(b"<row ")
                    tail = chunk[-4:]
            total += count - 1
    return total


def ensure_peers() -> None:
    """Re-exec under the bench virtualenv's python when psycopg or XlsxWriter is missing here."""
    try:
        import psycopg, xlsxwriter  # noqa: F401
        return
    except ImportError:
        pass
    venv = Path(os.environ.get("EXPORT_CORE_BENCH_VENV", Path.home() / ".cache/export-core/bench-venv"))
    py = venv / "bin" / "python"
    if py.exists() and Path(sys.prefix).resolve() != venv.resolve() and not os.environ.get("EXPORT_CORE_PG_BENCH_REEXEC"):
        os.environ["EXPORT_CORE_PG_BENCH_REEXEC"] = "1"
        os.execv(str(py), [str(py), __file__, *sys.argv[1:]])
    raise SystemExit(f"psycopg and XlsxWriter are needed: run benches/peers/setup.sh (venv {venv})")


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
    ensure_peers()
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
    load_start = os.getloadavg()[0]
    floor = run(["true"])[1]
    results = []
    for kind, name, rows, argv, out, reader in lines:
        best, rss = min(run(argv) for _ in range(args.reps))  # the best time, with its run's RSS
        back = reader(out)
        results.append((kind, name, rows, best, rss, out.stat().st_size, back == rows))
    commit = subprocess.run(["git", "-C", str(ROOT), "log", "-1", "--format=%h %s"],
                            capture_output=True, text=True).stdout.strip()
    print(f"date {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; nproc {os.cpu_count()}; "
          f"load (1 min) {load_start:.2f} at the start, {os.getloadavg()[0]:.2f} at the end; "
          f"peak RSS of `true` through the spawner (the floor) {floor / 1024:.1f} MB; commit {commit}")
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
