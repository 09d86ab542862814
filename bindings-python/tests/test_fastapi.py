"""The FastAPI example (examples/fastapi/app.py) served by a real uvicorn process.

One server for the module; httpx talks to it over TCP, psutil watches its memory, CPU and
threads. Run with ``-s`` to see the memory figures of the 1M-row stream.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import importlib.util
import io
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import psutil
import pytest

EXAMPLE_DIR = Path(__file__).resolve().parent.parent / "examples" / "fastapi"
BASE = "/api/v1/exports"
CSV_URL = f"{BASE}/stream/csv/products"
JSON_URL = f"{BASE}/stream/json/products"
ALICE = {"X-User": "alice", "X-Org": "acme"}
BOB = {"X-User": "bob", "X-Org": "globex"}
TRIP_REQUEST = {
    "schema": "trip",
    "version": "v2",
    "audience": "opendata",
    "format": "csv",
    "period": {"start": "2026-10-01T00:00:00+02:00", "end": "2026-10-02T00:00:00+02:00"},
}
BOM = b"\xef\xbb\xbf"


def load_example() -> ModuleType:
    """The example module, for its products generator (the expected data)."""
    spec = importlib.util.spec_from_file_location("fastapi_example_app", EXAMPLE_DIR / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


example = load_example()


def expected(n: int) -> list[dict[str, Any]]:
    return list(example.products(n))


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def ps(self) -> psutil.Process:
        return psutil.Process(self.process.pid)

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=60.0, **kwargs)

    def writer_threads(self) -> list[str]:
        """Names of export_core's native streaming threads alive in the server (Linux)."""
        names = []
        for tid in os.listdir(f"/proc/{self.process.pid}/task"):
            try:
                name = Path(f"/proc/{self.process.pid}/task/{tid}/comm").read_text().strip()
            except OSError:
                continue  # the thread just ended
            if name.startswith(("export-core-chu", "export-core-sin")):
                names.append(name)
        return names


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("fastapi")
    config = {
        "job_store": {"url": f"sqlite://{tmp / 'jobs.db'}"},
        "storage": {"url": f"file://{tmp / 'files'}"},
        "sources": {"sample_rows": 20000},
    }
    (tmp / "config.json").write_text(json.dumps(config))
    env = {**os.environ, "EXPORT_CORE_CONFIG": str(tmp / "config.json")}
    port = free_port()
    log = tmp / "uvicorn.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "app:app", "--host", "127.0.0.1", "--port", str(port)],
            cwd=EXAMPLE_DIR,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    srv = Server(f"http://127.0.0.1:{port}", process, log)
    deadline = time.monotonic() + 30
    while True:
        if process.poll() is not None:
            pytest.fail(f"uvicorn exited with {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{srv.url}/openapi.json", timeout=1.0).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"uvicorn did not start:\n{log.read_text()}")
        time.sleep(0.1)
    try:
        yield srv
    finally:
        process.terminate()
        try:
            code = process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            pytest.fail(f"uvicorn did not stop on SIGTERM:\n{log.read_text()}")
        # A clean shutdown: uvicorn re-raises the SIGTERM it handled once it has shut down
        # (-15); an abort at exit (-6) would mean a native thread was left behind.
        assert code in (0, -signal.SIGTERM), f"uvicorn exited with {code}:\n{log.read_text()}"


@pytest.fixture(scope="module")
def client(server: Server) -> Iterator[httpx.Client]:
    with server.client() as c:
        yield c


def csv_value(value: Any) -> str:
    """What the CSV writer writes for one of the generator's values."""
    if isinstance(value, dict):
        raise AssertionError("nested values are compared as JSON")
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return str(value)


# --- a. streamed CSV --------------------------------------------------------------------------


def test_csv_stream_matches_the_generator(client: httpx.Client) -> None:
    response = client.get(CSV_URL)  # default limit: 1000
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment;") and 'filename="products.csv"' in disposition
    assert not response.content.startswith(BOM)

    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8"), newline="")))
    assert rows[0] == list(example.PRODUCT_COLUMNS)
    body = rows[1:]
    products = expected(1000)
    assert len(body) == 1000
    for row, product in zip(body, products):
        record = dict(zip(rows[0], row))
        # Nested dicts are written as JSON text in a CSV cell.
        assert json.loads(record.pop("supplier")) == product["supplier"]
        assert record == {k: csv_value(v) for k, v in product.items() if k != "supplier"}
    assert body[9][2] == 'Product 10, "deluxe"'  # quoting round-trips
    assert Decimal(body[0][3]) == products[0]["price"]


def test_csv_stream_fields_exclude_bom(client: httpx.Client) -> None:
    products = expected(50)

    response = client.get(CSV_URL, params={"limit": 50, "fields": "sku, id,price"})
    assert response.status_code == 200, response.text
    rows = list(csv.reader(io.StringIO(response.text, newline="")))
    assert rows[0] == ["sku", "id", "price"]
    assert rows[1:] == [[p["sku"], str(p["id"]), str(p["price"])] for p in products]

    response = client.get(CSV_URL, params={"limit": 50, "exclude": "supplier,created_at,name"})
    rows = list(csv.reader(io.StringIO(response.text, newline="")))
    assert rows[0] == ["id", "sku", "price", "stock", "category"]
    assert len(rows) == 51

    response = client.get(CSV_URL, params={"limit": 50, "bom": "true", "fields": "id"})
    assert response.status_code == 200, response.text
    assert response.content.startswith(BOM + b"id\n1\n2\n")
    assert response.content.count(BOM) == 1

    response = client.get(CSV_URL, params={"limit": 0})
    assert response.content == b",".join(c.encode() for c in example.PRODUCT_COLUMNS) + b"\n"


# --- b. streamed JSON -------------------------------------------------------------------------


def json_product(product: dict[str, Any]) -> dict[str, Any]:
    """A generator row as the JSON writer writes it, read back with parse_float=Decimal."""
    return {
        **product,
        # Timestamps are RFC 3339 with a "Z" in JSON (CSV writes "+00:00").
        "created_at": product["created_at"].strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def test_json_array_stream(client: httpx.Client) -> None:
    response = client.get(JSON_URL, params={"limit": 1000})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert 'filename="products.json"' in response.headers["content-disposition"]
    data = json.loads(response.content, parse_float=Decimal)
    assert isinstance(data, list) and len(data) == 1000
    # The nested supplier is a JSON object (not a JSON text as in CSV); prices keep 2 decimals.
    assert data[0]["supplier"] == {"id": 2, "name": "Supplier 002"}
    assert data == [json_product(p) for p in expected(1000)]
    assert b'"price":80.18,' in response.content

    pretty = client.get(JSON_URL, params={"limit": 20, "pretty": "true", "exclude": "supplier"})
    assert pretty.status_code == 200, pretty.text
    assert pretty.content.startswith(b"[\n  {\n")
    assert json.loads(pretty.content, parse_float=Decimal) == [
        {k: v for k, v in json_product(p).items() if k != "supplier"} for p in expected(20)
    ]


def test_json_lines_stream(client: httpx.Client) -> None:
    response = client.get(JSON_URL, params={"limit": 1000, "lines": "true", "fields": "id,supplier"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/x-ndjson"
    assert 'filename="products.jsonl"' in response.headers["content-disposition"]
    lines = response.content.split(b"\n")
    assert lines[-1] == b""  # every record ends with a newline
    records = [json.loads(line) for line in lines[:-1]]
    assert len(records) == 1000
    assert records == [{"id": p["id"], "supplier": p["supplier"]} for p in expected(1000)]
    assert isinstance(records[0]["supplier"], dict)


# --- c. bad options ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "params", "named"),
    [
        (CSV_URL, {"colour": "red"}, "`colour`"),  # unknown query parameter
        (CSV_URL, {"feilds": "sku"}, "`feilds`"),  # a typo must not export every column
        (CSV_URL, {"fields": "sku,nope"}, "`nope`"),  # found by export_core at the first chunk
        (CSV_URL, {"exclude": "zzz"}, "`zzz`"),
        (CSV_URL, {"delimiter": "ab"}, "`delimiter`"),  # found by export_core at the call
        (JSON_URL, {"fields": "id,price_eur"}, "`price_eur`"),
        (JSON_URL, {"bom": "true"}, "`bom`"),  # a CSV-only option
        (JSON_URL, {"lines": "true", "pretty": "true"}, "`pretty`"),
    ],
)
def test_bad_option_is_422(client: httpx.Client, url: str, params: dict[str, str], named: str) -> None:
    response = client.get(url, params={"limit": 10, **params})
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert named in body["detail"]
    assert body["code"] == "INVALID_REQUEST"


def test_limit_is_bounded(client: httpx.Client) -> None:
    response = client.get(CSV_URL, params={"limit": 10_000_001})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "limit"]


# --- d. jobs ----------------------------------------------------------------------------------


def wait_for(client: httpx.Client, task_id: str, status: str, timeout: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        response = client.get(f"{BASE}/progress/{task_id}", headers=ALICE)
        assert response.status_code == 200, response.text
        progress: dict[str, Any] = response.json()
        if progress["status"] == status:
            return progress
        assert progress["status"] in ("pending", "running"), progress
        assert time.monotonic() < deadline, f"still {progress} after {timeout} s"
        time.sleep(0.1)


def test_job_lifecycle(client: httpx.Client) -> None:
    created = client.post(f"{BASE}/create", json=TRIP_REQUEST, headers=ALICE)
    assert created.status_code == 202, created.text
    task_id = created.json()["task_id"]
    assert created.json()["status"] == "pending"

    progress = wait_for(client, task_id, "succeeded")
    assert progress["percent"] == 100.0
    assert progress["rows"] > 0
    assert progress["error"] is None

    response = client.get(f"{BASE}/download/{task_id}", headers=ALICE)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment;") and ".csv" in disposition
    body = response.content
    if "content-length" in response.headers:
        assert len(body) == int(response.headers["content-length"])
    assert hashlib.sha256(body).hexdigest() == response.headers["x-export-sha256"]
    rows = list(csv.reader(io.StringIO(body.decode("utf-8"), newline=""), delimiter=";"))
    header = rows[0]
    assert header[:2] == ["journey_id", "trip_id"]  # the v2 opendata layout, ";"-separated
    assert body.split(b"\n", 1)[0].startswith(b'"journey_id";"trip_id";"journey_start_datetime";')
    assert len(rows) - 1 == progress["rows"] == int(response.headers["x-export-rows"])

    listed = client.get(BASE, headers=ALICE).json()
    assert task_id in [job["id"] for job in listed["jobs"]]
    assert client.get(f"{BASE}/{task_id}", headers=ALICE).json()["status"] == "succeeded"

    # Someone else's job does not exist for them.
    for path in (f"progress/{task_id}", f"download/{task_id}", task_id):
        response = client.get(f"{BASE}/{path}", headers=BOB)
        assert response.status_code == 404, (path, response.text)
        assert response.json()["code"] == "NOT_FOUND"
    assert client.get(BASE, headers=BOB).json()["jobs"] == []
    assert client.delete(f"{BASE}/{task_id}", headers=BOB).status_code == 404

    # No principal: 401.
    assert client.post(f"{BASE}/create", json=TRIP_REQUEST).status_code == 401
    for path in (f"progress/{task_id}", f"download/{task_id}"):
        assert client.get(f"{BASE}/{path}").status_code == 401
        assert client.get(f"{BASE}/{path}", headers={"X-User": "alice"}).status_code == 401

    assert client.delete(f"{BASE}/{task_id}", headers=ALICE).status_code == 204
    assert client.get(f"{BASE}/progress/{task_id}", headers=ALICE).status_code == 404


def test_job_errors(client: httpx.Client) -> None:
    response = client.post(f"{BASE}/create", json={**TRIP_REQUEST, "format": "pdf"}, headers=ALICE)
    assert response.status_code == 422 and "pdf" in response.json()["detail"]
    response = client.post(f"{BASE}/create", json={**TRIP_REQUEST, "audience": "operator"}, headers=ALICE)
    assert response.status_code == 403, response.text
    assert response.json()["code"] == "FORBIDDEN"
    assert client.get(f"{BASE}/download/no-such-job", headers=ALICE).status_code == 404


# --- e. 1M rows, flat memory ------------------------------------------------------------------


class RssSampler:
    """Samples a process's RSS every ``interval`` seconds in a thread."""

    def __init__(self, process: psutil.Process, interval: float = 0.2) -> None:
        self.process = process
        self.interval = interval
        self.samples: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append(self.process.memory_info().rss)
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()


MB = 1024 * 1024
# Measured: the first stream of a fresh server grows its RSS by 10-23 MiB (thread pools,
# allocator arenas: a one-time cost); a 1M-row, 114 MiB stream after it by 0-3 MiB (4 chunks
# of 256 KiB in flight). The bounds are about 2x and 5x those, far from the file's size.
RSS_GROWTH_BOUND = 40 * MB  # the peak over the RSS before the 100k stream
RSS_MORE_ROWS_BOUND = 16 * MB  # what 10x the rows may add


def stream_csv_rows(
    client: httpx.Client, limit: int, ps: psutil.Process
) -> tuple[int, int, bytes, int, int]:
    """Streams ``limit`` products; returns (newlines, bytes, tail, rss before, peak rss)."""
    before = ps.memory_info().rss
    newlines = 0
    size = 0
    tail = b""
    with RssSampler(ps) as sampler:
        with client.stream("GET", CSV_URL, params={"limit": limit}) as response:
            assert response.status_code == 200
            assert "content-length" not in response.headers  # chunked: nothing buffered
            for chunk in response.iter_raw():
                newlines += chunk.count(b"\n")
                size += len(chunk)
                tail = (tail + chunk)[-200:]
    return newlines, size, tail, before, max(sampler.samples)


def test_million_rows_stream_with_flat_memory(server: Server, client: httpx.Client) -> None:
    ps = server.ps
    # 100k rows first: the growth must not scale with the rows (10x more below).
    newlines, size, _, before, peak = stream_csv_rows(client, 100_000, ps)
    first_before = before
    assert newlines == 100_000 + 1
    warm_growth = peak - before
    print(
        f"\n100k-row CSV stream: {size / MB:.1f} MiB, server RSS before {before / MB:.1f} MiB, "
        f"peak {peak / MB:.1f} MiB, growth {warm_growth / MB:.1f} MiB"
    )

    started = time.monotonic()
    newlines, size, tail, before, peak = stream_csv_rows(client, 1_000_000, ps)
    elapsed = time.monotonic() - started
    growth = peak - before
    print(
        f"1M-row CSV stream: {size / MB:.1f} MiB in {elapsed:.1f} s, "
        f"server RSS before {before / MB:.1f} MiB, peak {peak / MB:.1f} MiB, "
        f"growth {growth / MB:.1f} MiB (peak over the RSS before the 100k stream: "
        f"{(peak - first_before) / MB:.1f} MiB)"
    )
    assert newlines == 1_000_000 + 1  # header + rows, one line each
    assert tail.rsplit(b"\n", 2)[1].startswith(b"1000000,SKU-01000000,")
    assert size > 100 * MB  # the bound below is well under the file's size
    total = peak - first_before
    assert total < RSS_GROWTH_BOUND, f"server RSS grew by {total / MB:.1f} MiB"
    assert growth < RSS_MORE_ROWS_BOUND, f"1M rows grew the RSS by {growth / MB:.1f} MiB more"


# --- f. a client going away mid-stream ---------------------------------------------------------


def test_client_disconnect_stops_the_writer(server: Server) -> None:
    ps = server.ps
    with server.client() as c:
        with c.stream("GET", CSV_URL, params={"limit": 10_000_000}) as response:
            assert response.status_code == 200
            received = 0
            for chunk in response.iter_raw():
                received += len(chunk)
                if received > 1 * MB:
                    break
            assert server.writer_threads(), "the writer thread is running while streaming"
        # Leaving the block closes the connection with ~9.99M rows still to write.

    deadline = time.monotonic() + 5
    while server.writer_threads() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.writer_threads() == [], "the writer thread outlived the client"
    cpu = ps.cpu_percent(interval=1.0)
    print(f"\nafter the disconnect: server CPU {cpu:.1f}% over 1 s, RSS {ps.memory_info().rss / MB:.1f} MiB")
    assert cpu < 30.0

    # Still healthy.
    with server.client() as c:
        response = c.get(CSV_URL, params={"limit": 10, "fields": "id"})
        assert response.status_code == 200
        assert response.content == b"id\n" + b"".join(b"%d\n" % i for i in range(1, 11))
