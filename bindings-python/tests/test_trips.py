"""export_trips and sample_trips: the trip schema from Python, compared with the CLI's
export of the same seed, cell by cell."""

from __future__ import annotations

import csv
import io
import os
import re
import subprocess
from pathlib import Path

import openpyxl
import pyarrow as pa
import pytest

import export_core as ec

CLI = os.environ.get("EXPORT_CORE_CLI")


def cli_export(tmp_path: Path, *args: str) -> Path:
    assert CLI, "EXPORT_CORE_CLI is not set (scripts/python-test.sh builds it)"
    out = tmp_path / f"cli.{args[args.index('--format') + 1]}"
    subprocess.run(
        [CLI, "export", "--audit-log", str(tmp_path / "audit.jsonl"), "--quiet", "--out", str(out), *args],
        check=True,
        cwd=tmp_path,
    )
    return out


@pytest.mark.parametrize("audience", ["opendata", "operator", "territory"])
def test_v2_csv_is_byte_identical_to_the_clis(audience: str, tmp_path: Path) -> None:
    period = ["--start", "2026-10-01", "--end", "2026-10-08", "--tz", "Europe/Paris"]
    cli = cli_export(tmp_path, "--version", "v2", "--audience", audience, "--format", "csv", "--rows", "3000", "--seed", "9", *period)
    summary = ec.export_trips(
        tmp_path / "py.csv", version="v2", audience=audience, start="2026-10-01", end="2026-10-08", rows=3000, seed=9
    )
    ours = list(csv.reader(io.StringIO((tmp_path / "py.csv").read_text(encoding="utf-8-sig")), delimiter=";"))
    theirs = list(csv.reader(io.StringIO(cli.read_text(encoding="utf-8-sig")), delimiter=";"))
    if audience == "opendata":
        # trip_id is an HMAC under a key drawn per export (rule 4 of the trip schema): equal
        # only in shape. Every other cell is equal.
        at = theirs[0].index("trip_id")
        assert all(len(r[at]) == 64 for r in ours[1:])
        ours = [r[:at] + r[at + 1 :] for r in ours]
        theirs = [r[:at] + r[at + 1 :] for r in theirs]
        assert ours == theirs
    else:
        assert (tmp_path / "py.csv").read_bytes() == cli.read_bytes()
    assert summary.file_name and summary.file_name.startswith(f"trips-v2-{audience}")
    rows = list(csv.reader(io.StringIO(cli.read_text(encoding="utf-8-sig")), delimiter=";"))
    assert summary.rows == len(rows) - 1 and summary.rows_read == 3000


def test_v3_xlsx_matches_the_clis_cell_by_cell(tmp_path: Path) -> None:
    cli = cli_export(
        tmp_path, "--version", "v3", "--audience", "operator", "--format", "xlsx", "--rows", "2000", "--seed", "3",
        "--start", "2026-10-01", "--end", "2026-11-01",
    )
    chunks = ec.export_trips(None, audience="operator", start="2026-10-01", end="2026-11-01", rows=2000, seed=3)
    body = b"".join(chunks)
    ours = openpyxl.load_workbook(io.BytesIO(body), read_only=True)
    theirs = openpyxl.load_workbook(cli, read_only=True)
    assert ours.sheetnames == theirs.sheetnames
    for name in ours.sheetnames:
        a = [tuple(c for c in row) for row in ours[name].iter_rows(values_only=True)]
        b = [tuple(c for c in row) for row in theirs[name].iter_rows(values_only=True)]
        # The info sheet's "generated at" is each export's own clock, to the second: the two
        # runs may straddle one. It is checked for its shape; every other cell is equal.
        stamped = [i for i, row in enumerate(b) if str(row[0]).startswith("Généré le")]
        for i in stamped:
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", str(a[i][1])), a[i]
            a[i] = b[i] = ()
        assert a == b, name
    assert chunks.summary is not None and chunks.summary.rows > 0


def test_sample_trips_is_an_arrow_stream_and_a_source(tmp_path: Path) -> None:
    sample = ec.sample_trips("2026-10-01", "2026-10-02", rows=1234, seed=5)
    table = pa.table(sample)
    assert table.num_rows == 1234 and "journey_id" in table.column_names
    assert pa.table(sample).equals(table), "each stream yields the same rows"
    a = ec.export_trips(tmp_path / "a.csv", version="v2", audience="operator", start="2026-10-01", end="2026-10-02", source=table)
    b = ec.export_trips(tmp_path / "b.csv", version="v2", audience="operator", start="2026-10-01", end="2026-10-02", rows=1234, seed=5)
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes() and a.rows == b.rows


def test_opendata_privacy_applies_from_python(tmp_path: Path) -> None:
    summary = ec.export_trips(tmp_path / "o.csv", version="v2", audience="opendata", start="2026-10-01", end="2026-10-02", rows=2000)
    assert summary.rows < summary.rows_read
    header = (tmp_path / "o.csv").read_text(encoding="utf-8-sig").splitlines()[0]
    assert "operator_journey_id" not in header


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"audience": "everyone"}, "everyone"),
        ({"audience": "opendata", "version": "v9"}, "v9"),
        ({"audience": "opendata", "tz": "Mars/Olympus"}, "Mars/Olympus"),
        ({"audience": "opendata", "bmo": True}, "bmo"),
        ({"audience": "opendata", "fields": ["nope"]}, "nope"),
    ],
)
def test_bad_trip_requests(kwargs: dict[str, object], message: str, tmp_path: Path) -> None:
    with pytest.raises(ec.ValidationError, match=message):
        ec.export_trips(tmp_path / "t.csv", start="2026-10-01", end="2026-10-02", rows=10, **kwargs)  # type: ignore[arg-type]
    assert os.listdir(tmp_path) == []
