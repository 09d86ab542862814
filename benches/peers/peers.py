"""Python peers of `compare`: one peer per process, so its peak RSS is its own.

    python peers.py PEER DATA.arrow OUT ROWS REPS

PEER is one of polars-csv, polars-ndjson, polars-xlsx, pandas-csv, pandas-xlsx, python-csv,
xlsxwriter, openpyxl. The first ROWS rows of the Arrow IPC file DATA.arrow are loaded before the
clock starts (as a DataFrame for polars and pandas, as tuples for the others); the peer writes OUT
REPS times and prints `RESULT rows best_seconds bytes peak_rss_kib`.
"""

import csv
import datetime
import os
import sys
import time

HEADER = ["id", "customer_id", "quantity", "balance", "amount", "latitude", "score", "city",
          "status", "created_at"]


def load_table(path, rows):
    # Only the batches holding the first `rows` rows, so memory is that of the rows written.
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
        return pa.Table.from_batches(batches, schema=f.schema).slice(0, rows)


def peak_rss_kib():
    # VmHWM of this process: ru_maxrss would include the parent's peak (kept across exec).
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def tuples(table):
    cols = [table.column(i).to_pylist() for i in range(table.num_columns)]
    return list(zip(*cols))


def naive(rows):
    # Excel has no zones: the writers take naive date-times (UTC here).
    return [r[:9] + (r[9].replace(tzinfo=None),) for r in rows]


def main():
    peer, data, out, rows, reps = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
    table = load_table(data, rows)
    if peer.startswith("polars"):
        import polars as pl
        df = pl.from_arrow(table)
        if peer == "polars-csv":
            run = lambda: df.write_csv(out)
        elif peer == "polars-ndjson":
            run = lambda: df.write_ndjson(out)
        else:
            df = df.with_columns(pl.col("created_at").dt.replace_time_zone(None))
            run = lambda: df.write_excel(out, autofit=False)
    elif peer.startswith("pandas"):
        df = table.to_pandas()
        if peer == "pandas-csv":
            run = lambda: df.to_csv(out, index=False)
        else:
            df["created_at"] = df["created_at"].dt.tz_localize(None)
            run = lambda: df.to_excel(out, index=False, engine="xlsxwriter")
    else:
        data_rows = tuples(table)
        del table
        if peer == "python-csv":
            def run():
                with open(out, "w", newline="") as f:
                    w = csv.writer(f)
                    w.writerow(HEADER)
                    w.writerows(data_rows)
        elif peer == "xlsxwriter":
            import xlsxwriter
            plain = naive(data_rows)

            def run():
                wb = xlsxwriter.Workbook(out, {"constant_memory": True})
                ws = wb.add_worksheet()
                fmt = wb.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
                ws.write_row(0, 0, HEADER)
                for i, r in enumerate(plain, 1):
                    for c in range(7):
                        ws.write_number(i, c, r[c])
                    ws.write_string(i, 7, r[7])
                    ws.write_string(i, 8, r[8])
                    ws.write_datetime(i, 9, r[9], fmt)
                wb.close()
        elif peer == "openpyxl":
            from openpyxl import Workbook
            plain = naive(data_rows)

            def run():
                wb = Workbook(write_only=True)
                ws = wb.create_sheet()
                ws.append(HEADER)
                for r in plain:
                    ws.append(r)
                wb.save(out)
        else:
            sys.exit(f"unknown peer {peer}")
    best = None
    for _ in range(reps):
        t0 = time.perf_counter()
        run()
        dt = time.perf_counter() - t0
        best = dt if best is None else min(best, dt)
    rss = peak_rss_kib()
    print(f"RESULT {rows} {best} {os.path.getsize(out)} {rss}")


if __name__ == "__main__":
    main()
