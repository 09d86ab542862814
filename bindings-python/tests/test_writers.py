"""write_csv, write_xlsx, write_json: every input kind, every output kind, options, read back
by independent readers (csv, json, openpyxl)."""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import gzip
import io
import json
import os
import uuid
from pathlib import Path
from typing import Any, Iterator

import openpyxl
import polars as pl
import pyarrow as pa
import pytest

import export_core as ec

ROWS = [
    {"sku": "A-1", "price": 1.5, "stock": 3, "active": True},
    {"sku": "B-2", "price": None, "stock": 7, "active": False},
]


def csv_bytes(data: Any, **options: Any) -> bytes:
    buf = io.BytesIO()
    ec.write_csv(data, buf, **options)
    return buf.getvalue()


def test_dict_rows_to_a_file_object_exact_bytes() -> None:
    buf = io.BytesIO()
    summary = ec.write_csv(ROWS, buf)
    assert buf.getvalue() == b"sku,price,stock,active\nA-1,1.5,3,true\nB-2,,7,false\n"
    assert (summary.rows, summary.bytes, summary.sheets, summary.file_name) == (2, len(buf.getvalue()), [], None)


def test_tuples_take_their_names_from_columns() -> None:
    out = csv_bytes([("A-1", 3), ("B-2", None)], columns=["sku", "stock"])
    assert out == b"sku,stock\nA-1,3\nB-2,\n"
    assert csv_bytes([(1, "x")]) == b"col_1,col_2\n1,x\n"


def test_a_generator_is_read_in_batches(tmp_path: Path) -> None:
    seen: list[int] = []
    rows = ({"n": i, "s": f"r{i}"} for i in range(25_000))
    summary = ec.write_csv(rows, tmp_path / "n.csv", batch_rows=1000, on_progress=seen.append)
    assert summary.rows == 25_000
    assert seen == sorted(seen) and seen[-1] == 25_000 and len(seen) == 25
    with open(tmp_path / "n.csv", newline="") as f:
        read = list(csv.DictReader(f))
    assert len(read) == 25_000 and read[12_345] == {"n": "12345", "s": "r12345"}


TABLE = pa.table(
    {
        "sku": ["A-1", "B-2", "C-3"],
        "price": [1.25, None, 3.0],
        "at": pa.array(
            [dt.datetime(2026, 10, 1, 8, 30), None, dt.datetime(2026, 10, 3)], pa.timestamp("us")
        ),
    }
)
TABLE_CSV = b"sku,price,at\nA-1,1.25,2026-10-01T08:30:00\nB-2,,\nC-3,3.0,2026-10-03T00:00:00\n"


class OnlyCapsule:
    """A producer known only by the Arrow PyCapsule stream interface."""

    def __init__(self, table: pa.Table) -> None:
        self.table = table

    def __arrow_c_stream__(self, requested_schema: object = None) -> object:
        return self.table.__arrow_c_stream__(requested_schema)


@pytest.mark.parametrize(
    "data",
    [
        TABLE,
        TABLE.to_batches()[0],
        pa.RecordBatchReader.from_batches(TABLE.schema, TABLE.to_batches()),
        pl.from_arrow(TABLE),
        OnlyCapsule(TABLE),
    ],
    ids=["table", "record_batch", "reader", "polars", "capsule"],
)
def test_arrow_inputs(data: Any) -> None:
    assert csv_bytes(data) == TABLE_CSV


def test_a_large_arrow_table_keeps_its_batches() -> None:
    n = 300_000
    table = pa.table({"i": pa.array(range(n), pa.int64()), "s": pa.array([str(i) for i in range(n)])})
    out = csv_bytes(table.to_reader(max_chunksize=50_000))
    lines = out.split(b"\n")
    assert lines[0] == b"i,s" and lines[n] == f"{n - 1},{n - 1}".encode() and lines[n + 1] == b""


def test_paths_str_and_pathlib(tmp_path: Path) -> None:
    s = ec.write_csv(ROWS, str(tmp_path / "a.csv"))
    p = ec.write_csv(ROWS, tmp_path / "b.csv")
    assert s.file_name == "a.csv" and p.file_name == "b.csv"
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes() == csv_bytes(ROWS)


def test_out_none_streams_chunks_with_a_summary_at_the_end() -> None:
    rows = ({"i": i, "text": "x" * 50} for i in range(20_000))
    chunks = ec.write_csv(rows, None)
    assert chunks.summary is None
    parts = list(chunks)
    assert len(parts) > 1 and all(isinstance(p, bytes) for p in parts)
    body = b"".join(parts)
    assert body.startswith(b"i,text\n0,") and body.count(b"\n") == 20_001
    assert chunks.summary is not None and chunks.summary.rows == 20_000
    assert chunks.summary.bytes == len(body)


def test_closing_a_chunk_iterator_stops_the_writer() -> None:
    produced = 0

    def endless() -> Iterator[dict[str, int]]:
        nonlocal produced
        while True:
            produced += 1
            yield {"i": produced}

    chunks = ec.write_csv(endless(), None)
    next(chunks)
    chunks.close()
    with pytest.raises(StopIteration):
        next(chunks)
    import time

    time.sleep(0.5)
    before = produced
    time.sleep(0.5)
    assert produced == before, "the writer thread kept reading rows after close()"


def test_options_fields_exclude_rename_bom_delimiter() -> None:
    assert csv_bytes(ROWS, fields=["stock", "sku"]) == b"stock,sku\n3,A-1\n7,B-2\n"
    assert csv_bytes(ROWS, exclude=["price", "active"], rename={"sku": "SKU"}) == b"SKU,stock\nA-1,3\nB-2,7\n"
    out = csv_bytes(ROWS, bom=True, delimiter=";", fields=["sku", "stock"])
    assert out == b"\xef\xbb\xbfsku;stock\nA-1;3\nB-2;7\n"
    assert csv_bytes([{"f": "=1+1"}]) == b"f\n'=1+1\n"
    assert csv_bytes([{"f": "=1+1"}], formula_guard=False) == b"f\n=1+1\n"


def test_gzip_compression_reads_back() -> None:
    out = csv_bytes(ROWS, compression="gzip")
    assert gzip.decompress(out) == csv_bytes(ROWS)


@pytest.mark.parametrize(
    "options, named",
    [
        ({"bmo": True}, "bmo"),
        ({"bom": "yes"}, "bom"),
        ({"fields": ["nope"]}, "nope"),
        ({"delimiter": "ab"}, "delimiter"),
        ({"header_style": {"bolt": True}}, "bolt"),
        ({"compression": "rar"}, "rar"),
    ],
)
def test_bad_options_are_validation_errors_naming_them(options: dict[str, Any], named: str, tmp_path: Path) -> None:
    with pytest.raises(ec.ValidationError) as err:
        ec.write_csv(ROWS, tmp_path / "x.csv", **options)
    assert named in str(err.value) and err.value.code in ("INVALID_REQUEST", "UNKNOWN_FIELD")
    assert isinstance(err.value, ValueError)
    assert os.listdir(tmp_path) == []


def test_cell_types() -> None:
    row = {
        "date": dt.date(2026, 10, 1),
        "naive": dt.datetime(2026, 10, 1, 8, 0, 0, 250_000),
        "aware": dt.datetime(2026, 10, 1, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=2))),
        "dec": decimal.Decimal("12.50"),
        "id": uuid.UUID("12345678-1234-5678-1234-567812345678"),
        "raw": b"\x00\xff",
        "nested": {"a": [1, None]},
        "big": 2**62,
    }
    out = csv_bytes([row]).decode()
    header, line, _ = out.split("\n")
    assert header == "date,naive,aware,dec,id,raw,nested,big"
    assert line == (
        '2026-10-01,2026-10-01T08:00:00.250,2026-10-01T08:00:00+00:00,12.50,'
        '12345678-1234-5678-1234-567812345678,00ff,"{""a"":[1,null]}",4611686018427387904'
    )


def test_json_array_lines_pretty_and_nested_objects() -> None:
    rows = [{"sku": "A-1", "supplier": {"id": 7, "name": "acme"}, "tags": ["x"]}, {"sku": "B-2", "supplier": None, "tags": []}]
    buf = io.BytesIO()
    assert ec.write_json(rows, buf).rows == 2
    assert json.loads(buf.getvalue()) == rows
    buf = io.BytesIO()
    ec.write_json(rows, buf, lines=True)
    assert [json.loads(line) for line in buf.getvalue().splitlines()] == rows
    buf = io.BytesIO()
    ec.write_json(rows, buf, pretty=True)
    assert b"\n  {\n" in buf.getvalue() and json.loads(buf.getvalue()) == rows


def test_xlsx_values_sheets_header_style_and_widths(tmp_path: Path) -> None:
    path = tmp_path / "catalogue.xlsx"
    summary = ec.write_xlsx(
        sheets={"products": ROWS, "suppliers": pa.table({"id": [1, 2], "name": ["acme", "umbrella"]})},
        out=path,
        header_style={"bold": True, "background": "#DDEBF7", "font_color": "#1F4E78"},
        column_widths={"sku": 18},
    )
    assert summary.sheets == ["products", "suppliers"] and summary.rows == 4
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["products", "suppliers"]
    products = book["products"]
    assert [[c.value for c in row] for row in products.iter_rows()] == [
        ["sku", "price", "stock", "active"],
        ["A-1", 1.5, 3, True],
        ["B-2", None, 7, False],
    ]
    head = products["A1"]
    assert head.font.bold and head.fill.fgColor.rgb.endswith("DDEBF7") and head.font.color.rgb.endswith("1F4E78")
    assert products.column_dimensions["A"].width == pytest.approx(18, abs=1)
    assert [[c.value for c in row] for row in book["suppliers"].iter_rows()] == [["id", "name"], [1, "acme"], [2, "umbrella"]]


def test_xlsx_to_chunks_is_a_whole_workbook() -> None:
    body = b"".join(ec.write_xlsx(ROWS, None, sheet_name="p"))
    book = openpyxl.load_workbook(io.BytesIO(body))
    assert book.sheetnames == ["p"] and book["p"]["A2"].value == "A-1"


class Boom(Exception):
    pass


def rows_then_raise(n: int) -> Iterator[dict[str, int]]:
    for i in range(n):
        yield {"i": i}
    raise Boom("the database went away")


@pytest.mark.parametrize("format", ["csv", "xlsx", "json"])
def test_an_exception_of_the_callers_iterator_propagates_unchanged_and_leaves_no_file(format: str, tmp_path: Path) -> None:
    write = {"csv": ec.write_csv, "xlsx": ec.write_xlsx, "json": ec.write_json}[format]
    with pytest.raises(Boom, match="the database went away") as err:
        write(rows_then_raise(50_000), tmp_path / f"out.{format}")
    assert type(err.value) is Boom
    assert os.listdir(tmp_path) == []


def test_an_exception_in_the_chunk_iterator_reaches_the_consumer() -> None:
    chunks = ec.write_csv(rows_then_raise(100_000), None)
    with pytest.raises(Boom):
        for _ in chunks:
            pass


def test_a_raising_progress_callback_stops_the_write(tmp_path: Path) -> None:
    def progress(rows: int) -> None:
        if rows >= 2000:
            raise RuntimeError("enough")

    with pytest.raises(RuntimeError, match="enough"):
        ec.write_csv(({"i": i} for i in range(100_000)), tmp_path / "p.csv", batch_rows=1000, on_progress=progress)
    assert os.listdir(tmp_path) == []


def test_a_raising_file_object_propagates() -> None:
    class Full(io.RawIOBase):
        def writable(self) -> bool:
            return True

        def write(self, b: Any) -> int:
            raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        ec.write_csv(({"i": i} for i in range(100_000)), Full())


@pytest.mark.parametrize(
    "rows, message",
    [
        ([{"a": 1}, {"b": 2}], 'unknown key "b"'),
        ([{"a": 1}, 5], "row must be a dict or a tuple"),
        ([{1: 2}], "keys must be str"),
        ([{"a": 2**70}], "does not fit in 64 bits"),
        ([{"a": object()}], "type object cannot be written"),
        ([{"a": 1}, {"a": "x"}], "text but earlier rows are integers"),
        ([(1, 2), (3,)], "has 1 value but there are 2 columns"),
        ([{"a": decimal.Decimal("NaN")}], "not a finite number"),
    ],
)
def test_bad_rows_name_the_row_and_column(rows: list[Any], message: str, tmp_path: Path) -> None:
    with pytest.raises(ec.ValidationError, match=message) as err:
        ec.write_csv(rows, tmp_path / "bad.csv")
    assert err.value.code == "INVALID_INPUT"
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("data", ["text", 5, {"a": 1}, None])
def test_data_of_the_wrong_type_is_a_type_error(data: Any) -> None:
    with pytest.raises(TypeError):
        ec.write_csv(data, io.BytesIO())


def test_out_of_the_wrong_type_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="out must be a path"):
        ec.write_csv(ROWS, 42)


def test_non_utf8_text_in_an_arrow_input_is_refused() -> None:
    # Arrow strings are UTF-8 by contract; a binary column is written as hex instead.
    table = pa.table({"raw": pa.array([b"\xff\xfe"], pa.binary())})
    assert csv_bytes(table) == b"raw\nfffe\n"
    with pytest.raises(UnicodeDecodeError):
        b"\xff".decode()
    with pytest.raises(ec.ValidationError):
        ec.write_csv([{"s": "ok"}, {"s": b"\xff"}], io.BytesIO())
