"""Runs export_core jobs from a Celery worker.

The export engine keeps its own job queue (the job store); Celery only carries the order "run a
job now" and the progress a client polls. A producer creates the job through the engine and sends
``run_export`` (:func:`submit` does both); the worker's task calls
``engine.run_once(job_id=...)``, which claims that job, streams its file into storage and
returns the outcome.

    EXPORT_CORE_REDIS_URL=redis://127.0.0.1:6379/0 EXPORT_CORE_CONFIG=/etc/export-core.toml \\
        celery -A tasks worker --pool=prefork --concurrency=4 -l info

Environment:

- ``EXPORT_CORE_REDIS_URL`` (required): the Celery broker and result backend.
- ``EXPORT_CORE_CONFIG``: the engine configuration, a path to a TOML or JSON file or JSON text
  (``{"job_store": {...}, "storage": {...}}``). Unset: the engine's embedded defaults (SQLite
  and files relative to the worker's working directory). Producers and workers must share the
  job store and the storage.

Soft time limits and ``revoke(task_id, terminate=True, signal="SIGUSR1")`` both raise
``SoftTimeLimitExceeded`` in the worker process while ``run_once`` runs: the engine stops at the
next batch, aborts the upload (no file, not even a partial one) and puts the job back to pending;
the task then cancels it and re-raises, so the job ends ``cancelled`` and the task ``FAILURE``
(for a revoke, ``REVOKED`` may win: the worker's main process writes it too).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from typing import Any, Mapping, Optional, Protocol, TypedDict

from celery import Celery  # type: ignore[import-untyped]
from celery.exceptions import SoftTimeLimitExceeded  # type: ignore[import-untyped]

import export_core
from export_core import Engine, Principal

__all__ = [
    "app",
    "run_export",
    "submit",
    "get_engine",
    "load_config",
    "Outcome",
    "ExportTask",
    "TaskResult",
    "TASK_NAME",
    "PROGRESS_INTERVAL",
]

log = logging.getLogger(__name__)

#: The registered name of :data:`run_export`, whatever the module is imported as.
TASK_NAME = "export_core.run_export"
#: At most one ``PROGRESS`` state update per this many seconds (the engine reports every batch).
PROGRESS_INTERVAL = 0.2
#: What the task's own principal may do to the job it runs for its owner.
TASK_SCOPES = "export.cancel,export.status"


def _redis_url() -> str:
    url = os.environ.get("EXPORT_CORE_REDIS_URL", "").strip()
    if not url:
        raise RuntimeError(
            "EXPORT_CORE_REDIS_URL is not set: it names the Redis server that is the Celery "
            "broker and result backend (e.g. redis://127.0.0.1:6379/0)"
        )
    return url


app: Any = Celery("export_core_example", broker=_redis_url(), backend=_redis_url())
app.conf.update(
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    # Exports are long: one at a time per process, no prefetched tasks stuck behind one.
    worker_prefetch_multiplier=1,
    broker_connection_retry_on_startup=True,
    result_expires=24 * 3600,
)


class Outcome(TypedDict):
    """What ``run_export`` returns: the engine's outcome of the job it ran."""

    job_id: str
    #: ``"succeeded"``, ``"failed"``, ``"cancelled"``, ``"pending"`` (retry later) ...
    status: str
    rows: int
    error: Any
    lease_lost: bool
    released: bool


class TaskRequest(Protocol):
    @property
    def id(self) -> Optional[str]: ...


class TaskResult(Protocol):
    """The part of ``celery.result.AsyncResult`` used here."""

    @property
    def id(self) -> str: ...
    @property
    def state(self) -> str: ...
    @property
    def info(self) -> Any: ...
    def get(self, timeout: Optional[float] = None, propagate: bool = True) -> Any: ...


class ExportTask(Protocol):
    """The part of the bound ``celery.Task`` used here (celery ships no type information)."""

    @property
    def request(self) -> TaskRequest: ...
    def update_state(
        self,
        task_id: Optional[str] = None,
        state: Optional[str] = None,
        meta: Optional[Mapping[str, Any]] = None,
    ) -> None: ...
    def apply_async(
        self,
        args: Optional[tuple[Any, ...]] = None,
        kwargs: Optional[Mapping[str, Any]] = None,
        **options: Any,
    ) -> TaskResult: ...


def load_config(value: Optional[str] = None) -> Any:
    """The engine config named by ``value`` (default: ``$EXPORT_CORE_CONFIG``): JSON text as a
    dict, anything else as a path to a TOML or JSON file; ``None`` when unset."""
    if value is None:
        value = os.environ.get("EXPORT_CORE_CONFIG")
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.startswith("{"):
        config = json.loads(text)
        if not isinstance(config, dict):
            raise export_core.ConfigError("EXPORT_CORE_CONFIG must be a JSON object", "CONFIG")
        return config
    return text


_engine: Optional[Engine] = None
_engine_pid: Optional[int] = None
_engine_lock = threading.Lock()
# Engines inherited through a fork: kept, never dropped, as their threads did not come along.
_inherited: list[Engine] = []


def get_engine() -> Engine:
    """The process's engine, opened on first use from ``$EXPORT_CORE_CONFIG``.

    Opened lazily so that a prefork worker's children each open their own after the fork (an
    engine's threads and database handles do not survive ``fork``); reopened if the process
    was forked after it was opened.
    """
    global _engine, _engine_pid
    with _engine_lock:
        if _engine is None or _engine_pid != os.getpid():
            if _engine is not None:
                _inherited.append(_engine)
            _engine = Engine(load_config())
            _engine_pid = os.getpid()
            log.info("export_core %s engine opened (pid %d)", export_core.__version__, _engine_pid)
        return _engine


def _outcome(raw: Mapping[str, Any]) -> Outcome:
    return Outcome(
        job_id=str(raw["job_id"]),
        status=str(raw["status"]),
        rows=int(raw.get("rows") or 0),
        error=raw.get("error"),
        lease_lost=bool(raw.get("lease_lost", False)),
        released=bool(raw.get("released", False)),
    )


def _run_export(
    self: ExportTask, job_id: str, user_id: str, organisation: Optional[str] = None
) -> Outcome:
    """Runs export job ``job_id`` to its end, reporting ``PROGRESS`` states; returns its
    :class:`Outcome`."""
    engine = get_engine()
    owner = Principal(user_id, organisation, scopes=TASK_SCOPES)
    # The task's request is thread-local in Celery, and the engine calls on_progress from its
    # own worker thread: take the id here.
    task_id = self.request.id
    last_update = 0.0

    def on_progress(running_job: str, rows: int, rows_expected: Optional[int]) -> None:
        nonlocal last_update
        now = time.monotonic()
        if now - last_update < PROGRESS_INTERVAL:
            return
        last_update = now
        try:
            self.update_state(
                task_id=task_id,
                state="PROGRESS",
                meta={"job_id": running_job, "rows": rows, "rows_expected": rows_expected},
            )
        except Exception:  # noqa: BLE001 - a lost progress update must not fail the export
            log.warning("progress update of task %s failed", task_id, exc_info=True)

    try:
        raw = engine.run_once(job_id=job_id, on_progress=on_progress)
    except SoftTimeLimitExceeded:
        # Soft time limit or revoke(terminate=True, signal="SIGUSR1"): the engine has stopped
        # the run and put the job back to pending; cancel it so that no worker picks it again.
        try:
            engine.cancel(owner, job_id)
            log.info("job %s cancelled: task %s interrupted", job_id, task_id)
        except export_core.ExportError as err:
            # Conflict: the job had finished (its file was written before the stop).
            log.warning("job %s not cancelled after interruption: %s", job_id, err)
        raise
    if raw is None:
        # Not pending: cancelled before it ran, or run by another task (a redelivery).
        status = engine.status(owner, job_id)
        return Outcome(
            job_id=job_id,
            status=str(status["status"]),
            rows=int((status.get("progress") or {}).get("rows_done") or 0),
            error=status.get("error"),
            lease_lost=False,
            released=False,
        )
    return _outcome(raw)


#: The Celery task: ``run_export.delay(job_id, user_id, organisation)``.
run_export: ExportTask = app.task(bind=True, name=TASK_NAME)(_run_export)


def submit(
    engine: Engine, principal: Principal, request: dict[str, Any], **options: Any
) -> tuple[dict[str, Any], TaskResult]:
    """Creates the job for ``principal`` and sends ``run_export`` for it; the job and the task's
    result. ``options`` go to ``apply_async`` (``soft_time_limit``, ``queue``, ...).

    If the task cannot be sent, the job is cancelled (when the principal may) and the error
    re-raised, so no job waits for a task that will never come.
    """
    job = engine.create(principal, request)
    try:
        result = run_export.apply_async(
            args=(job["id"], principal.user_id, principal.organisation), **options
        )
    except Exception:
        try:
            engine.cancel(principal, job["id"])
        except export_core.ExportError:
            log.warning("job %s left pending: its task was not sent", job["id"])
        raise
    return job, result
