"""The Celery example (examples/celery/tasks.py) against a real worker and a real Redis.

Two prefork workers run as subprocesses, each on its own queue and with its own engine (SQLite
job store and local files in the test's directory): "small" exports 400,000 sample rows (a run of
a few seconds, enough to see PROGRESS), "large" 3,000,000 (a run that is still going when it is
revoked or hits its soft time limit). Needs EXPORT_CORE_REDIS_URL (scripts/redis-server.sh
start): without a Redis that answers, these tests fail, they never skip.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Iterator, Optional

import psutil
import pytest
from celery.exceptions import SoftTimeLimitExceeded, TaskRevokedError

import export_core

EXAMPLE_DIR = Path(__file__).resolve().parent.parent / "examples" / "celery"
REQUEST: dict[str, Any] = {
    "schema": "trip",
    "version": "v2",
    "audience": "opendata",
    "format": "csv",
    "period": {"start": "2026-10-01T00:00:00+02:00", "end": "2026-10-02T00:00:00+02:00"},
}
SMALL_ROWS = 400_000
LARGE_ROWS = 3_000_000
SEED = 42  # the engine's default sources.sample_seed
READY_TIMEOUT = 30.0


def wait_for(what: str, check: Callable[[], Any], timeout: float, every: float = 0.02) -> Any:
    """Calls ``check`` until it returns something truthy; that value. Fails after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


@dataclass
class Worker:
    name: str
    queue: str
    config: dict[str, Any]
    storage: Path
    log: Path
    process: subprocess.Popen[bytes]
    engine: Optional[export_core.Engine] = None

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError as err:
            return f"(no log: {err})"

    def files(self) -> list[Path]:
        return sorted(p for p in self.storage.rglob("*") if p.is_file())


def _redis_url() -> tuple[str, Optional[str]]:
    """EXPORT_CORE_REDIS_URL, and why it cannot be used (None when Redis answers)."""
    url = os.environ.get("EXPORT_CORE_REDIS_URL", "").strip()
    if not url:
        return url, (
            "EXPORT_CORE_REDIS_URL is not set: the Celery tests need Redis "
            "(eval \"$(scripts/redis-server.sh start)\")"
        )
    import redis

    try:
        client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        try:
            client.ping()
        finally:
            client.close()
    except Exception as err:  # noqa: BLE001
        return url, f"Redis at EXPORT_CORE_REDIS_URL={url} does not answer: {err!r}"
    return url, None


@dataclass
class CeleryEnv:
    """The example's module (imported as the worker imports it, ``-A tasks``) and the workers;
    or, without Redis, the reason, which fails each test (a failure, not a setup error)."""

    problem: Optional[str]
    tasks: Optional[ModuleType] = None
    workers: dict[str, Worker] = field(default_factory=dict)

    def require(self) -> tuple[ModuleType, dict[str, Worker]]:
        if self.problem is not None:
            pytest.fail(self.problem, pytrace=False)
        assert self.tasks is not None
        return self.tasks, self.workers


def _start_worker(base: Path, label: str, sample_rows: int, redis_url: str) -> Worker:
    root = base / label
    root.mkdir(parents=True)
    storage = root / "files"
    config = {
        "job_store": {"url": f"sqlite://{root / 'jobs.db'}"},
        "storage": {"url": f"file://{storage}"},
        "sources": {"sample_rows": sample_rows},
    }
    config_path = root / "config.json"
    config_path.write_text(json.dumps(config))
    # Unique names: the Redis server may be shared with other runs and other workers.
    tag = uuid.uuid4().hex[:8]
    name = f"export-core-test-{label}-{tag}@{socket.gethostname()}"
    queue = f"export-core-test-{label}-{tag}"
    env = dict(os.environ)
    env.update(
        EXPORT_CORE_REDIS_URL=redis_url,
        EXPORT_CORE_CONFIG=str(config_path),
        PYTHONPATH=os.pathsep.join(
            [str(EXAMPLE_DIR)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])
        ),
        PYTHONUNBUFFERED="1",
    )
    log = root / "worker.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable, "-m", "celery", "-A", "tasks", "worker",
                "--pool=prefork", "--concurrency=1", "-l", "info",
                "-n", name, "-Q", queue,
                "--without-mingle", "--without-gossip", "--without-heartbeat",
            ],
            cwd=EXAMPLE_DIR,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return Worker(name, queue, config, storage, log, process)


def _wait_worker(app: Any, worker: Worker, deadline: float) -> None:
    while True:
        if worker.process.poll() is not None:
            pytest.fail(
                f"worker {worker.name} exited with {worker.process.returncode}:\n"
                + worker.log_tail()
            )
        replies = app.control.ping(destination=[worker.name], timeout=0.5)
        if any(worker.name in reply for reply in replies or []):
            return
        if time.monotonic() > deadline:
            pytest.fail(f"worker {worker.name} not ready after {READY_TIMEOUT:.0f} s:\n"
                        + worker.log_tail())


def _stop_workers(workers: list[Worker]) -> None:
    """SIGTERM (warm shutdown) to all, then SIGKILL for any worker or pool child still alive
    after 10 s."""
    procs: list[psutil.Process] = []
    for worker in workers:
        if worker.process.poll() is not None:
            continue
        try:
            main = psutil.Process(worker.process.pid)
            procs += [main] + main.children(recursive=True)
        except psutil.NoSuchProcess:
            continue
        worker.process.send_signal(signal.SIGTERM)
    _, alive = psutil.wait_procs(procs, timeout=10)
    for proc in alive:
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(alive, timeout=5)
    for worker in workers:
        worker.process.wait(timeout=5)


@pytest.fixture(scope="module")
def celery_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CeleryEnv]:
    redis_url, problem = _redis_url()
    if problem is not None:
        yield CeleryEnv(problem)
        return
    if str(EXAMPLE_DIR) not in sys.path:
        sys.path.insert(0, str(EXAMPLE_DIR))
    env = CeleryEnv(None, importlib.import_module("tasks"))
    base = tmp_path_factory.mktemp("celery")
    try:
        # Both start at once; each opens its engine lazily in its pool child.
        env.workers["small"] = _start_worker(base, "small", SMALL_ROWS, redis_url)
        env.workers["large"] = _start_worker(base, "large", LARGE_ROWS, redis_url)
        deadline = time.monotonic() + READY_TIMEOUT
        for worker in env.workers.values():
            _wait_worker(env.tasks.app, worker, deadline)
            # The test's own engine on the same store and storage, as a web app's would be.
            worker.engine = export_core.Engine(worker.config)
        yield env
    finally:
        _stop_workers(list(env.workers.values()))


@pytest.fixture
def principal() -> export_core.Principal:
    return export_core.Principal(f"user-{uuid.uuid4().hex[:8]}", "org-celery")


def _engine(worker: Worker) -> export_core.Engine:
    assert worker.engine is not None
    return worker.engine


def _final_status(engine: export_core.Engine, principal: export_core.Principal, job_id: str,
                  timeout: float = 20.0) -> dict[str, Any]:
    def done() -> Optional[dict[str, Any]]:
        status = engine.status(principal, job_id)
        return status if status["status"] in ("succeeded", "failed", "cancelled") else None

    result: dict[str, Any] = wait_for(f"job {job_id} to end", done, timeout, every=0.05)
    return result


def _snapshot(result: Any) -> tuple[str, Any]:
    """The task's state and its meta (PROGRESS), value (SUCCESS) or exception, read at once:
    ``result.state`` then ``result.info`` are two reads, between which the state can change."""
    meta = result.backend.get_task_meta(result.id)
    state, value = meta["status"], meta["result"]
    if state in ("FAILURE", "REVOKED") and not isinstance(value, BaseException):
        value = result.backend.exception_to_python(value)
    return state, value


def _progressed(result: Any) -> bool:
    state, info = _snapshot(result)
    return bool(state == "PROGRESS" and info["rows"] > 0)


def _wait_ready(result: Any, worker: Worker, timeout: float) -> tuple[str, Any, list[Any]]:
    """Polls the task until it is ready; its state, value and the PROGRESS metas seen."""
    seen: list[dict[str, Any]] = []
    last: list[tuple[str, Any]] = []

    def ready() -> bool:
        state, info = _snapshot(result)
        if state == "PROGRESS" and (not seen or seen[-1] != info):
            seen.append(info)
        last[:] = [(state, info)]
        return state in ("SUCCESS", "FAILURE", "REVOKED")

    try:
        wait_for(f"task {result.id}", ready, timeout)
    except pytest.fail.Exception:
        raise AssertionError(f"task {result.id} not done; worker log:\n{worker.log_tail()}")
    state, value = last[0]
    return state, value, seen


def _assert_no_file(worker: Worker, job_id: str) -> None:
    files = worker.files()
    assert not [p for p in files if job_id in str(p)], files
    # Only interrupted jobs ran on this worker: nothing at all, no partial upload either.
    assert files == [], files


def _assert_unavailable(engine: export_core.Engine, principal: export_core.Principal,
                        job_id: str) -> export_core.ExportError:
    with pytest.raises(export_core.Conflict) as raised:
        engine.download(principal, job_id)
    # A cancelled job has no file: Conflict, code INVALID_STATE (not NotFound: the job is there;
    # not Gone: that is a file retention deleted).
    assert raised.value.code == "INVALID_STATE", raised.value.code
    assert "cancelled" in str(raised.value), str(raised.value)
    return raised.value


TRIP_ID = re.compile(rb'^"[0-9a-f]{64}"$')


def test_end_to_end_progress_success_and_download(
    celery_env: CeleryEnv, principal: export_core.Principal,
    tmp_path: Path,
) -> None:
    tasks, workers = celery_env.require()
    worker = workers["small"]
    engine = _engine(worker)
    job, result = tasks.submit(engine, principal, REQUEST, queue=worker.queue)
    assert job["status"] == "pending"

    state, outcome, seen = _wait_ready(result, worker, timeout=30)
    assert state == "SUCCESS", (state, outcome, worker.log_tail())
    assert any(meta["rows"] > 0 and meta["job_id"] == job["id"] for meta in seen), seen
    assert result.get(timeout=5) == outcome
    assert outcome["job_id"] == job["id"]
    assert outcome["status"] == "succeeded", outcome
    assert outcome["error"] is None
    assert engine.status(principal, job["id"])["status"] == "succeeded"

    with engine.download(principal, job["id"]) as download:
        data = b"".join(iter(download.read, b""))
        assert len(data) == download.size
        rows = download.rows
        assert download.file_name.endswith(".csv")
    assert rows == outcome["rows"] > 0

    direct_path = tmp_path / "direct.csv"
    summary = export_core.export_trips(
        direct_path, audience="opendata", version="v2", format="csv",
        start=REQUEST["period"]["start"], end=REQUEST["period"]["end"],
        rows=SMALL_ROWS, seed=SEED,
    )
    direct = direct_path.read_bytes()
    direct_path.unlink()
    assert summary.rows == rows

    lines, direct_lines = data.split(b"\n"), direct.split(b"\n")
    assert lines[0] == direct_lines[0]
    assert lines[0].startswith(b'"journey_id";"trip_id";"journey_start_datetime";')
    assert lines[-1] == b"" and direct_lines[-1] == b""
    assert len(lines) - 2 == rows == len(direct_lines) - 2
    # Not byte for byte: the opendata trip_id is an HMAC under a random key per export (no
    # option sets it), so it differs; every other column of every row is the same.
    for i, (ours, theirs) in enumerate(zip(lines[1:-1], direct_lines[1:-1]), start=1):
        a, b = ours.split(b";", 2), theirs.split(b";", 2)
        if a[0] != b[0] or a[2] != b[2]:
            pytest.fail(f"line {i + 1} differs:\n{ours[:300]!r}\n{theirs[:300]!r}")
        assert TRIP_ID.match(a[1]), a[1]


def test_revoke_terminate_cancels_running_export(
    celery_env: CeleryEnv, principal: export_core.Principal,
) -> None:
    tasks, workers = celery_env.require()
    worker = workers["large"]
    engine = _engine(worker)
    job, result = tasks.submit(engine, principal, REQUEST, queue=worker.queue)

    wait_for("PROGRESS", lambda: _progressed(result), timeout=20)
    running = engine.status(principal, job["id"])
    assert running["status"] == "running", running
    tasks.app.control.revoke(result.id, terminate=True, signal="SIGUSR1")

    status = _final_status(engine, principal, job["id"])
    assert status["status"] == "cancelled", (status, worker.log_tail())
    _assert_unavailable(engine, principal, job["id"])
    _assert_no_file(worker, job["id"])

    # Two processes write the task's end, in either order: the worker's main process stores
    # REVOKED as it sends the signal; the pool process, where SIGUSR1 only raised
    # SoftTimeLimitExceeded, stores the task's FAILURE once the job is cancelled.
    state, value, _ = _wait_ready(result, worker, timeout=10)
    if state == "REVOKED":
        assert isinstance(value, TaskRevokedError), repr(value)
    else:
        assert state == "FAILURE", (state, value)
        assert isinstance(value, SoftTimeLimitExceeded), repr(value)


def test_soft_time_limit_cancels_export(
    celery_env: CeleryEnv, principal: export_core.Principal,
) -> None:
    tasks, workers = celery_env.require()
    worker = workers["large"]
    engine = _engine(worker)
    job, result = tasks.submit(engine, principal, REQUEST, queue=worker.queue, soft_time_limit=1)

    state, value, seen = _wait_ready(result, worker, timeout=20)
    assert state == "FAILURE", (state, value, worker.log_tail())
    assert isinstance(value, SoftTimeLimitExceeded), repr(value)
    assert isinstance(result.result, SoftTimeLimitExceeded), repr(result.result)

    status = _final_status(engine, principal, job["id"])
    assert status["status"] == "cancelled", (status, worker.log_tail())
    # It was running, and stopped well before the end (a whole run takes ~20 s).
    assert seen and 0 < max(meta["rows"] for meta in seen) < LARGE_ROWS * 0.9, seen
    _assert_unavailable(engine, principal, job["id"])
    _assert_no_file(worker, job["id"])
