"""FastAPI integration of export_core: streamed CSV / JSON exports and background export jobs.

Run it with ``uvicorn app:app`` from this directory (see README.md). Routes:

- ``GET  /api/v1/exports/stream/csv/products``   streamed CSV of the products generator
- ``GET  /api/v1/exports/stream/json/products``  streamed JSON array (or JSON Lines)
- ``POST /api/v1/exports/create``                queue an engine export job -> ``task_id``
- ``GET  /api/v1/exports/progress/{task_id}``    status, rows, percent
- ``GET  /api/v1/exports/download/{task_id}``    the finished file, streamed from storage
- ``GET  /api/v1/exports``, ``GET|DELETE /api/v1/exports/{task_id}``  list, detail, delete

Jobs are owned by the principal of the ``X-User`` / ``X-Org`` headers (a stand-in for real
authentication); someone else's job is "not found".
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import tempfile
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Callable, Optional, Union
from urllib.parse import quote

import anyio.to_thread
from fastapi import Body, Depends, FastAPI, Header, HTTPException, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.types import Receive, Scope, Send

import export_core

log = logging.getLogger("export_core.examples.fastapi")

MAX_LIMIT = 10_000_000
SCOPES = "READ_EXPORTS,WRITE_EXPORTS"
DOWNLOAD_CHUNK = 256 * 1024

# --------------------------------------------------------------------------------------------
# The data: a deterministic products "table" (stands in for a paged database query).
# --------------------------------------------------------------------------------------------

PRODUCT_COLUMNS = ("id", "sku", "name", "price", "stock", "category", "created_at", "supplier")
CATEGORIES = ("books", "garden", "kitchen", "music", "office", "sports", "tools", "toys")
SUPPLIER_COUNT = 50
EPOCH = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)


def product_name(i: int) -> str:
    """Every 10th name has a comma and quotes, so the CSV quoting is exercised."""
    return f'Product {i}, "deluxe"' if i % 10 == 0 else f"Product {i}"


def products(n: int) -> Iterator[dict[str, Any]]:
    """Yields ``n`` products; product ``i`` (1-based) is always the same."""
    for i in range(1, n + 1):
        supplier_id = i % SUPPLIER_COUNT + 1
        yield {
            "id": i,
            "sku": f"SKU-{i:08d}",
            "name": product_name(i),
            "price": Decimal((i * 7919) % 100_000 + 99).scaleb(-2),
            "stock": (i * 37) % 1000,
            "category": CATEGORIES[i % len(CATEGORIES)],
            "created_at": EPOCH + dt.timedelta(seconds=61 * i),
            "supplier": {"id": supplier_id, "name": f"Supplier {supplier_id:03d}"},
        }


# --------------------------------------------------------------------------------------------
# Errors: every export_core error becomes a JSON {"detail": ..., "code": ...} response.
# --------------------------------------------------------------------------------------------

_STATUS: tuple[tuple[type[export_core.ExportError], int], ...] = (
    (export_core.ValidationError, 422),
    (export_core.NotFound, 404),
    (export_core.Forbidden, 403),
    (export_core.Conflict, 409),
    (export_core.Gone, 410),
    (export_core.RateLimited, 429),
)


def status_of(exc: export_core.ExportError) -> int:
    for cls, status in _STATUS:
        if isinstance(exc, cls):
            return status
    return 500


async def export_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, export_core.ExportError)
    status = status_of(exc)
    if status >= 500:
        log.error("export_core error on %s: %s (%s)", request.url.path, exc, exc.code)
    return JSONResponse({"detail": str(exc), "code": exc.code}, status_code=status)


# --------------------------------------------------------------------------------------------
# Streaming: a StreamingResponse that always stops export_core's writer thread.
# --------------------------------------------------------------------------------------------


def content_disposition(file_name: str) -> str:
    """``attachment`` with an ASCII fallback name and the exact UTF-8 one (RFC 6266)."""
    fallback = "".join(c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in file_name)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(file_name, safe='')}"


def _next_chunk(chunks: export_core.ChunkIterator) -> Optional[bytes]:
    return next(chunks, None)


class ClosingStreamingResponse(StreamingResponse):
    """Streams ``body`` and calls ``close`` however the response ends: complete, client gone
    (Starlette cancels the stream on ``http.disconnect``), or an error mid-stream."""

    def __init__(
        self,
        body: AsyncIterator[bytes],
        close: Callable[[], None],
        *,
        media_type: str,
        headers: dict[str, str],
    ) -> None:
        super().__init__(body, media_type=media_type, headers=headers)
        self._close = close

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._close()


async def _chunk_body(first: bytes, chunks: export_core.ChunkIterator) -> AsyncIterator[bytes]:
    if first:
        yield first
    while True:
        # anyio does not abandon the thread on cancellation: when the client goes away the
        # stream is cancelled only once this next() returns, so close() never races it
        # (close() during a next() in another thread raises "Already borrowed").
        chunk = await anyio.to_thread.run_sync(_next_chunk, chunks)
        if chunk is None:
            return
        yield chunk


async def stream_export(
    start: Callable[[], export_core.ChunkIterator], *, media_type: str, file_name: str
) -> ClosingStreamingResponse:
    """Starts a writer and returns its response once the first chunk is there.

    Unknown options and bad values raise when the writer is called, but ``fields`` /
    ``exclude`` naming a column the data lacks raise only at the first ``next()`` (the
    columns are known once rows are read): taking the first chunk before answering turns
    both into a 422 instead of a truncated 200.
    """
    chunks = start()
    try:
        first = await anyio.to_thread.run_sync(_next_chunk, chunks)
    except BaseException:
        chunks.close()
        raise
    return ClosingStreamingResponse(
        _chunk_body(first or b"", chunks),
        chunks.close,
        media_type=media_type,
        headers={"Content-Disposition": content_disposition(file_name)},
    )


def names(value: Optional[str]) -> Optional[list[str]]:
    """``"a, b,,c"`` -> ``["a", "b", "c"]``; None or blank -> None (option not given)."""
    if value is None:
        return None
    parsed = [name.strip() for name in value.split(",") if name.strip()]
    return parsed or None


def only_query_params(*allowed: str) -> Callable[[Request], None]:
    """A dependency rejecting unknown query parameters: a typo (``feilds=``) must not
    silently export every column."""

    def check(request: Request) -> None:
        for key in request.query_params.keys():
            if key not in allowed:
                raise export_core.ValidationError(
                    f"invalid `{key}`: unknown query parameter, expected one of "
                    + ", ".join(f"`{name}`" for name in allowed),
                    "INVALID_REQUEST",
                )

    return check


def writer_options(fields: Optional[str], exclude: Optional[str], **options: Any) -> dict[str, Any]:
    given = {"fields": names(fields), "exclude": names(exclude), **options}
    return {key: value for key, value in given.items() if value is not None}


Limit = Annotated[int, Query(ge=0, le=MAX_LIMIT, description="number of products")]
Fields = Annotated[Optional[str], Query(description="comma list of the columns to keep, in order")]
Exclude = Annotated[Optional[str], Query(description="comma list of the columns to drop")]

# --------------------------------------------------------------------------------------------
# Jobs: an Engine, a worker thread, and the principal of the request.
# --------------------------------------------------------------------------------------------


def engine_config() -> Union[str, dict[str, Any]]:
    """``EXPORT_CORE_CONFIG``: a JSON object, or the path of a JSON file; without it an SQLite
    job store and local files under ``EXPORT_CORE_DATA_DIR`` (default: a temp directory)."""
    raw = os.environ.get("EXPORT_CORE_CONFIG", "").strip()
    if raw.startswith("{"):
        config: dict[str, Any] = json.loads(raw)
        return config
    if raw:
        return raw
    base = Path(os.environ.get("EXPORT_CORE_DATA_DIR") or Path(tempfile.gettempdir()) / "export-core-fastapi")
    base = base.resolve()
    base.mkdir(parents=True, exist_ok=True)
    return {
        "job_store": {"url": f"sqlite://{base / 'jobs.db'}"},
        "storage": {"url": f"file://{base / 'files'}"},
    }


class Worker:
    """Runs the engine's pending jobs, one at a time, in a background thread."""

    def __init__(self, engine: export_core.Engine, idle_sleep: float = 0.1) -> None:
        self._engine = engine
        self._idle_sleep = idle_sleep
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="export-core-worker", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 60.0) -> None:
        """Waits for the job in progress (``run_once`` cannot be interrupted from this thread
        without cancelling the job) and stops."""
        self._stop.set()
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.warning("export worker still running a job after %.0f s", timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                outcome = self._engine.run_once()
            except Exception:  # a store or storage failure: keep the worker alive
                log.exception("export worker: run_once failed")
                self._stop.wait(1.0)
                continue
            if outcome is None:
                self._stop.wait(self._idle_sleep)
            else:
                log.info(
                    "export job %s: %s, %s rows%s",
                    outcome.get("job_id"),
                    outcome.get("status"),
                    outcome.get("rows"),
                    f" ({outcome['error']})" if outcome.get("error") else "",
                )


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    engine = export_core.Engine(engine_config())
    worker = Worker(engine)
    app.state.engine = engine
    worker.start()
    try:
        yield
    finally:
        await anyio.to_thread.run_sync(worker.stop)


def get_engine(request: Request) -> export_core.Engine:
    engine: export_core.Engine = request.app.state.engine
    return engine


def get_principal(
    x_user: Annotated[Optional[str], Header()] = None,
    x_org: Annotated[Optional[str], Header()] = None,
) -> export_core.Principal:
    if not x_user or not x_org:
        raise HTTPException(
            status_code=401,
            detail="the X-User and X-Org headers are required",
            headers={"WWW-Authenticate": "X-User"},
        )
    return export_core.Principal(x_user, x_org, scopes=SCOPES)


EngineDep = Annotated[export_core.Engine, Depends(get_engine)]
PrincipalDep = Annotated[export_core.Principal, Depends(get_principal)]

# --------------------------------------------------------------------------------------------
# The app.
# --------------------------------------------------------------------------------------------

app = FastAPI(title="export_core FastAPI example", lifespan=lifespan)
app.add_exception_handler(export_core.ExportError, export_error_handler)


@app.get(
    "/api/v1/exports/stream/csv/products",
    dependencies=[Depends(only_query_params("limit", "fields", "exclude", "bom", "delimiter"))],
)
async def stream_csv_products(
    limit: Limit = 1000,
    fields: Fields = None,
    exclude: Exclude = None,
    bom: bool = False,
    delimiter: Optional[str] = None,
) -> ClosingStreamingResponse:
    options = writer_options(fields, exclude, bom=bom, delimiter=delimiter)

    def start() -> export_core.ChunkIterator:
        chunks: export_core.ChunkIterator = export_core.write_csv(
            products(limit), None, columns=PRODUCT_COLUMNS, **options
        )
        return chunks

    return await stream_export(start, media_type="text/csv; charset=utf-8", file_name="products.csv")


@app.get(
    "/api/v1/exports/stream/json/products",
    dependencies=[Depends(only_query_params("limit", "fields", "exclude", "pretty", "lines"))],
)
async def stream_json_products(
    limit: Limit = 1000,
    fields: Fields = None,
    exclude: Exclude = None,
    pretty: bool = False,
    lines: bool = False,
) -> ClosingStreamingResponse:
    if pretty and lines:
        raise export_core.ValidationError(
            "invalid `pretty`: JSON Lines are one object a line, they cannot be pretty-printed",
            "INVALID_REQUEST",
        )
    options = writer_options(fields, exclude)

    def start() -> export_core.ChunkIterator:
        chunks: export_core.ChunkIterator = export_core.write_json(
            products(limit), None, lines=lines, pretty=pretty, columns=PRODUCT_COLUMNS, **options
        )
        return chunks

    if lines:
        return await stream_export(start, media_type="application/x-ndjson", file_name="products.jsonl")
    return await stream_export(start, media_type="application/json", file_name="products.json")


@app.post("/api/v1/exports/create", status_code=202)
def create_export(
    engine: EngineDep,
    principal: PrincipalDep,
    request: Annotated[dict[str, Any], Body(description="the engine's export request")],
) -> dict[str, Any]:
    job = engine.create(principal, request)
    return {"task_id": job["id"], "status": job["status"]}


@app.get("/api/v1/exports/progress/{task_id}")
def export_progress(task_id: str, engine: EngineDep, principal: PrincipalDep) -> dict[str, Any]:
    status = engine.status(principal, task_id)
    progress: dict[str, Any] = status.get("progress") or {}
    return {
        "task_id": task_id,
        "status": status["status"],
        "rows": progress.get("rows_done", 0),
        "rows_expected": progress.get("rows_expected"),
        "percent": status.get("percent"),
        "error": status.get("error"),
    }


def _read_chunk(download: export_core.Download) -> bytes:
    return download.read(DOWNLOAD_CHUNK)


async def _download_body(download: export_core.Download) -> AsyncIterator[bytes]:
    while True:
        chunk = await anyio.to_thread.run_sync(_read_chunk, download)
        if not chunk:
            return
        yield chunk


@app.get("/api/v1/exports/download/{task_id}")
def download_export(task_id: str, engine: EngineDep, principal: PrincipalDep) -> ClosingStreamingResponse:
    download = engine.download(principal, task_id)
    return ClosingStreamingResponse(
        _download_body(download),
        download.close,
        media_type=download.content_type,
        headers={
            "Content-Disposition": content_disposition(download.file_name),
            "Content-Length": str(download.size),
            "X-Export-Rows": str(download.rows),
            "X-Export-Sha256": download.sha256,
        },
    )


@app.get("/api/v1/exports")
def list_exports(
    engine: EngineDep,
    principal: PrincipalDep,
    status: Optional[str] = None,
    limit: Annotated[Optional[int], Query(ge=1, le=1000)] = None,
    cursor: Optional[str] = None,
) -> dict[str, Any]:
    return engine.list(principal, status=status, limit=limit, cursor=cursor)


@app.get("/api/v1/exports/{task_id}")
def get_export(task_id: str, engine: EngineDep, principal: PrincipalDep) -> dict[str, Any]:
    return engine.get(principal, task_id)


@app.delete("/api/v1/exports/{task_id}", status_code=204)
def delete_export(task_id: str, engine: EngineDep, principal: PrincipalDep) -> None:
    engine.delete(principal, task_id)
