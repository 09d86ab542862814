"""export_core: streaming CSV, XLSX and JSON exports, background jobs, schedules and retention.

The writers take rows (an iterable of dicts or tuples) or Arrow data (a ``pyarrow.Table``,
``RecordBatch`` or ``RecordBatchReader``, a ``polars.DataFrame``, anything with
``__arrow_c_stream__``) and write to a path (the file appears only once complete), a binary
file object, or, with ``out=None``, an iterator of ``bytes`` chunks for a streaming response.

>>> import io, export_core
>>> buf = io.BytesIO()
>>> export_core.write_csv([{"sku": "A-1", "stock": 3}, {"sku": "B-2", "stock": None}], buf)
Summary(rows=2, bytes=21, sheets=[], file_name=None)
>>> buf.getvalue()
b'sku,stock\\nA-1,3\\nB-2,\\n'
"""

from __future__ import annotations

import atexit as _atexit
import datetime as _dt
import weakref as _weakref
from typing import Any, Callable, Iterable, Mapping, Optional, Union

from . import _native
from ._native import ChunkIterator, Download, Engine, Principal, SampleTrips, Summary
from .exceptions import (
    Cancelled,
    ConfigError,
    Conflict,
    ExportError,
    Forbidden,
    Gone,
    InternalError,
    NotFound,
    RateLimited,
    StorageError,
    StoreError,
    ValidationError,
)

__version__: str = _native.__version__

__all__ = [
    "write_csv",
    "write_xlsx",
    "write_json",
    "export_trips",
    "sample_trips",
    "SampleTrips",
    "Engine",
    "Principal",
    "Download",
    "Summary",
    "ChunkIterator",
    "ExportError",
    "ValidationError",
    "ConfigError",
    "Forbidden",
    "NotFound",
    "Gone",
    "Conflict",
    "RateLimited",
    "Cancelled",
    "StorageError",
    "StoreError",
    "InternalError",
]

#: What ``data`` may be: rows (dicts or tuples) or an Arrow-capable object.
Data = Any
#: Where a file goes: a path, a binary file object, or None for an iterator of chunks.
Out = Any
Progress = Optional[Callable[[int], object]]


# Chunk iterators not yet exhausted: closed at exit, so no writer thread still reads rows
# (through the GIL) while the interpreter shuts down.
_open_chunks: "_weakref.WeakSet[ChunkIterator]" = _weakref.WeakSet()


@_atexit.register
def _close_open_chunks() -> None:
    for chunks in list(_open_chunks):
        chunks.close()


def _track(result: Any) -> Any:
    if isinstance(result, ChunkIterator):
        _open_chunks.add(result)
    return result


def _write(
    format: str,
    data: Data,
    out: Out,
    sheets: Optional[Mapping[str, Data]],
    on_progress: Progress,
    columns: Optional[Iterable[str]],
    batch_rows: Optional[int],
    options: dict[str, Any],
) -> Union[Summary, ChunkIterator]:
    if sheets is not None:
        if data is not None:
            raise TypeError("give either data or sheets, not both")
        if not isinstance(sheets, Mapping):
            raise TypeError("sheets must be a mapping of sheet name to data")
        tables: list[tuple[Optional[str], Data]] = [
            (str(name), table) for name, table in sheets.items()
        ]
    else:
        if data is None:
            raise TypeError("data is required (or sheets= for several XLSX sheets)")
        tables = [(None, data)]
    return _track(_native.write(
        format,
        tables,
        out,
        options,
        on_progress=on_progress,
        columns=None if columns is None else list(columns),
        batch_rows=batch_rows,
    ))


def write_csv(
    data: Data,
    out: Out = None,
    *,
    on_progress: Progress = None,
    columns: Optional[Iterable[str]] = None,
    batch_rows: Optional[int] = None,
    **options: Any,
) -> Any:
    """Writes ``data`` as CSV to ``out``; returns a :class:`Summary` (or, for ``out=None``, a
    :class:`ChunkIterator` of the file's bytes).

    Options (keyword names of the Rust ``WriteOptions``): ``fields``, ``exclude``, ``rename``,
    ``bom``, ``delimiter``, ``quote_style``, ``header``, ``crlf``, ``null``, ``bool_values``,
    ``decimal_separator``, ``timestamp_format``, ``date_format``, ``time_format``,
    ``formula_guard``, ``compression`` (``"gzip"``, ``"zip"``). An unknown option raises
    :class:`ValidationError` naming it.
    """
    return _write("csv", data, out, None, on_progress, columns, batch_rows, options)


def write_xlsx(
    data: Data = None,
    out: Out = None,
    *,
    sheets: Optional[Mapping[str, Data]] = None,
    on_progress: Progress = None,
    columns: Optional[Iterable[str]] = None,
    batch_rows: Optional[int] = None,
    **options: Any,
) -> Any:
    """Writes ``data`` (or ``sheets={"name": data, ...}``, one sheet each) as an XLSX workbook.

    Options: ``fields``, ``exclude``, ``rename``, ``sheet_name``, ``sheet_rows``,
    ``header_style`` (``{"bold": True, "background": "#DDEBF7", "font_color": None}``),
    ``column_widths`` (``{"sku": 12}``), ``default_width``, ``freeze_header``, ``autofilter``,
    ``formula_guard``, ``compression``.
    """
    return _write("xlsx", data, out, sheets, on_progress, columns, batch_rows, options)


def write_json(
    data: Data,
    out: Out = None,
    *,
    lines: bool = False,
    pretty: bool = False,
    on_progress: Progress = None,
    columns: Optional[Iterable[str]] = None,
    batch_rows: Optional[int] = None,
    **options: Any,
) -> Any:
    """Writes ``data`` as a JSON array of objects, or JSON Lines with ``lines=True``.

    Options: ``fields``, ``exclude``, ``rename``, ``explicit_nulls``, ``timestamp_format``,
    ``compression``; ``pretty`` indents a JSON array.
    """
    if pretty:
        options["pretty"] = True
    return _write(
        "jsonl" if lines else "json", data, out, None, on_progress, columns, batch_rows, options
    )


def _instant(value: Union[str, _dt.date], name: str) -> str:
    if isinstance(value, (_dt.date, _dt.datetime)):
        return value.isoformat()
    if isinstance(value, str):
        return value
    raise TypeError(f"{name} must be a str, date or datetime, got {type(value).__name__}")


def export_trips(
    out: Out,
    *,
    audience: str,
    start: Union[str, _dt.date],
    end: Union[str, _dt.date],
    version: str = "v3",
    format: Optional[str] = None,
    tz: str = "Europe/Paris",
    source: Data = None,
    rows: int = 100_000,
    seed: int = 42,
    fields: Optional[Iterable[str]] = None,
    exclude: Optional[Iterable[str]] = None,
    rename: Optional[Mapping[str, str]] = None,
    on_progress: Progress = None,
    **options: Any,
) -> Any:
    """Exports trips in the registry's schema (``version`` v2 or v3, ``audience`` opendata,
    operator or territory) over ``[start, end)`` in ``tz``, with the schema's privacy rules.

    ``source`` gives the trips (Arrow data in the trip input schema); without it, ``rows``
    sample trips from the deterministic generator (``seed``). ``format`` defaults to the
    version's (CSV for v2, XLSX for v3). Options are the request's file options: ``bom``,
    ``delimiter``, ``header``, ``formula_guard``, ``compression``, ``pretty``, ``sheet_rows``,
    ``null``.
    """
    request: dict[str, Any] = {
        "schema": "trip",
        "version": version,
        "audience": audience,
        "format": format or ("csv" if str(version).lower() == "v2" else "xlsx"),
        "fields": {
            "include": list(fields or []),
            "exclude": list(exclude or []),
            "rename": dict(rename or {}),
        },
        "options": options,
    }
    return _track(_native.export_trips(
        out,
        request,
        _instant(start, "start"),
        _instant(end, "end"),
        tz,
        data=source,
        rows=rows,
        seed=seed,
        on_progress=on_progress,
    ))


def sample_trips(
    start: Union[str, _dt.date],
    end: Union[str, _dt.date],
    *,
    rows: int = 10_000,
    seed: int = 42,
    tz: str = "Europe/Paris",
) -> SampleTrips:
    """Deterministic sample trips over ``[start, end)``, in the trip input schema: an Arrow
    stream (``pyarrow.table(sample_trips(...))``), or the ``source`` of :func:`export_trips`.
    The same arguments give the same rows as the CLI's ``export --rows --seed``."""
    return SampleTrips(_instant(start, "start"), _instant(end, "end"), tz, rows, seed)
