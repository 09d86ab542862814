"""What a Python host needs: the GIL released during work, interruption by signals with no
file left, every error code mapped to a class, no panic escaping as anything but an
ExportError."""

from __future__ import annotations

import os
import re
import signal
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import pyarrow as pa
import pytest

import export_core as ec
from export_core import _native

ROOT = Path(__file__).resolve().parents[2]


def big_table(rows: int = 2_000_000) -> pa.Table:
    return pa.table(
        {
            "id": pa.array(range(rows), pa.int64()),
            "price": pa.array([i * 0.25 for i in range(rows)], pa.float64()),
            "name": pa.array([f"product {i}" for i in range(rows)]),
        }
    )


def test_the_gil_is_released_while_writing(tmp_path: Path) -> None:
    table = big_table()
    counted = 0
    stop = threading.Event()

    def count() -> None:
        nonlocal counted
        while not stop.is_set():
            counted += 1

    thread = threading.Thread(target=count)
    thread.start()
    time.sleep(0.05)
    before = counted
    started = time.perf_counter()
    ec.write_csv(table, tmp_path / "big.csv")
    took = time.perf_counter() - started
    during = counted - before
    stop.set()
    thread.join()
    # Holding the GIL for the whole write would leave the counter near zero: Python switches
    # threads only every 5 ms when a thread holds the GIL and never lets go.
    assert took > 0.05 and during > 10_000, (took, during)


def interrupt_after(seconds: float) -> threading.Timer:
    timer = threading.Timer(seconds, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    return timer


def endless_reader() -> pa.RecordBatchReader:
    # A reader whose batches come from a Python generator: the signal may land in Rust or in
    # the generator pyarrow runs (which reports it as text through the C stream).
    return pa.RecordBatchReader.from_batches(
        pa.schema([("i", pa.int64())]),
        (pa.record_batch([pa.array(range(n * 10_000, (n + 1) * 10_000))], names=["i"]) for n in range(1_000_000)),
    )


@pytest.mark.parametrize("format", ["csv", "xlsx"])
@pytest.mark.parametrize("input", ["table", "generator"])
def test_keyboard_interrupt_stops_an_arrow_write_promptly_and_leaves_no_file(format: str, input: str, tmp_path: Path) -> None:
    if input == "table":
        # 200M rows without building them (one batch, repeated): far more than any machine
        # writes before the signal lands.
        batch = pa.record_batch([pa.array(range(10_000), pa.int64())], names=["i"])
        reader = pa.Table.from_batches([batch] * 20_000).to_reader()
    else:
        reader = endless_reader()
    write = ec.write_csv if format == "csv" else ec.write_xlsx
    timer = interrupt_after(0.3)
    started = time.perf_counter()
    with pytest.raises(KeyboardInterrupt):
        write(reader, tmp_path / f"endless.{format}")
    timer.join()
    assert time.perf_counter() - started < 5
    assert os.listdir(tmp_path) == []


def test_keyboard_interrupt_stops_a_row_write(tmp_path: Path) -> None:
    def endless() -> Iterator[dict[str, int]]:
        i = 0
        while True:
            i += 1
            yield {"i": i}

    timer = interrupt_after(0.3)
    with pytest.raises(KeyboardInterrupt):
        ec.write_json(endless(), tmp_path / "endless.json", lines=True)
    timer.join()
    assert os.listdir(tmp_path) == []


def test_a_signal_handlers_exception_propagates_as_itself(tmp_path: Path) -> None:
    class SoftTimeLimitExceeded(Exception):
        pass

    def handler(signum: int, frame: Any) -> None:
        raise SoftTimeLimitExceeded()

    previous = signal.signal(signal.SIGUSR1, handler)
    try:
        timer = threading.Timer(0.3, lambda: os.kill(os.getpid(), signal.SIGUSR1))
        timer.start()
        with pytest.raises(SoftTimeLimitExceeded):
            ec.write_csv(big_table(5_000_000), tmp_path / "slow.csv")
        timer.join()
    finally:
        signal.signal(signal.SIGUSR1, previous)
    assert os.listdir(tmp_path) == []


def test_an_interrupted_job_run_is_released(engine_config: dict[str, Any]) -> None:
    engine_config["sources"]["sample_rows"] = 5_000_000
    engine = ec.Engine(engine_config)
    owner = ec.Principal("u-1", "org-1", operator=7)
    job = engine.create(
        owner,
        {"schema": "trip", "version": "v3", "audience": "operator", "format": "xlsx",
         "period": {"start": "2026-10-01", "end": "2026-11-01"}},
    )
    timer = interrupt_after(0.5)
    with pytest.raises(KeyboardInterrupt):
        engine.run_once()
    timer.join()
    status = engine.status(owner, job["id"])
    assert status["status"] == "pending", status
    with pytest.raises(ec.Conflict):
        engine.download(owner, job["id"])


def test_every_error_code_has_its_class() -> None:
    source = (ROOT / "export-core" / "src" / "error.rs").read_text()
    codes = re.findall(r'ExportError::\w+(?: \{ \.\. \}|\(_\))? => "([A-Z_]+)"', source)
    assert len(codes) >= 20, codes
    for code in codes:
        name = _native._error_class(code)
        assert name != "ExportError", f"{code} has no exception class"
        assert issubclass(getattr(ec, name), ec.ExportError)
    assert _native._error_class("SOMETHING_NEW") == "ExportError"


def test_errors_carry_their_code_and_pickle() -> None:
    import pickle

    with pytest.raises(ec.ValidationError) as err:
        ec.write_csv([{"a": 1}], None, nope=1)
    assert err.value.code == "INVALID_REQUEST"
    again = pickle.loads(pickle.dumps(err.value))
    assert type(again) is ec.ValidationError and again.code == "INVALID_REQUEST" and str(again) == str(err.value)


def test_a_panic_is_an_internal_error() -> None:
    with pytest.raises(ec.InternalError, match="kaboom") as err:
        _native._panic_for_tests("kaboom")
    assert err.value.code == "INTERNAL" and isinstance(err.value, ec.ExportError)
    # The interpreter is fine afterwards.
    assert ec.write_csv([{"a": 1}], None) is not None


def test_a_stop_event_releases_the_job_of_a_worker_thread(engine_config: dict[str, Any]) -> None:
    engine_config["sources"]["sample_rows"] = 5_000_000
    engine = ec.Engine(engine_config)
    owner = ec.Principal("u-1", "org-1", operator=7)
    job = engine.create(
        owner,
        {"schema": "trip", "version": "v3", "audience": "operator", "format": "xlsx",
         "period": {"start": "2026-10-01", "end": "2026-11-01"}},
    )
    stop = threading.Event()
    outcomes: list[Any] = []
    worker = threading.Thread(target=lambda: outcomes.append(engine.run_once(stop=stop)))
    worker.start()
    time.sleep(0.5)
    stop.set()
    worker.join(timeout=10)
    assert not worker.is_alive()
    assert outcomes[0]["released"] is True and outcomes[0]["job_id"] == job["id"]
    assert engine.status(owner, job["id"])["status"] == "pending"


def test_closing_a_chunk_iterator_from_another_thread_ends_a_waiting_next() -> None:
    def slow() -> Iterator[dict[str, int]]:
        i = 0
        while True:
            i += 1
            if i % 1000 == 0:
                time.sleep(0.2)
            yield {"i": i}

    chunks = ec.write_csv(slow(), None, batch_rows=1000)
    closer = threading.Timer(0.3, chunks.close)
    closer.start()
    started = time.perf_counter()
    for _ in chunks:
        pass
    closer.join()
    assert time.perf_counter() - started < 3


def test_exiting_with_an_unfinished_chunk_iterator_is_clean(tmp_path: Path) -> None:
    import subprocess
    import sys

    script = (
        "import export_core as ec\n"
        "rows = ({'i': i, 's': 'x' * 40} for i in range(10**9))\n"
        "chunks = ec.write_csv(rows, None)\n"
        "for _, _chunk in zip(range(50), chunks):\n"
        "    pass\n"
    )
    for _ in range(3):
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60)
        assert done.returncode == 0, done.stderr.decode()[-2000:]
