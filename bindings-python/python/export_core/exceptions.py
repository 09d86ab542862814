"""The exceptions of export_core: one class per kind of error, all under ExportError.

Each carries ``code``, the engine's stable error code (``"INVALID_REQUEST"``, ``"NOT_FOUND"``,
...), and its message names what was wrong.
"""

from __future__ import annotations

__all__ = [
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


class ExportError(Exception):
    """Base class of every error raised by export_core."""

    code: str

    def __init__(self, message: str, code: str = "EXPORT") -> None:
        super().__init__(message)
        self.code = code

    def __reduce__(self):  # type: ignore[no-untyped-def]
        # Celery and multiprocessing pickle exceptions: keep the code.
        return (type(self), (str(self), self.code))


class ValidationError(ExportError, ValueError):
    """Bad input: an unknown option or field, a bad value, a bad period, unreadable data."""


class ConfigError(ExportError, ValueError):
    """A bad engine configuration (the key is named)."""


class Forbidden(ExportError):
    """The principal lacks the scope, or the audience is not theirs."""


class NotFound(ExportError, LookupError):
    """No such job, schedule or platform for this principal (someone else's is not found)."""


class Gone(ExportError):
    """The export existed but its file was deleted by retention."""


class Conflict(ExportError):
    """The job, schedule or platform is in a state that does not allow this (or exists)."""


class RateLimited(ExportError):
    """Too many exports at once for this owner."""


class Cancelled(ExportError):
    """The export was cancelled."""


class StorageError(ExportError):
    """Reading or writing a file or the object store failed."""


class StoreError(ExportError):
    """The job, schedule or audit database failed."""


class InternalError(ExportError):
    """A bug in export_core (a Rust panic, reported instead of crashing)."""
