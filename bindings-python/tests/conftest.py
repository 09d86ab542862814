"""Shared fixtures of the export_core tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import export_core


@pytest.fixture
def engine_config(tmp_path: Path) -> dict[str, Any]:
    """An embedded-default engine (SQLite, local files) in the test's own directory."""
    return {
        "job_store": {"url": f"sqlite://{tmp_path / 'jobs.db'}"},
        "storage": {"url": f"file://{tmp_path / 'files'}"},
        "sources": {"sample_rows": 2000},
    }


@pytest.fixture
def engine(engine_config: dict[str, Any]) -> export_core.Engine:
    return export_core.Engine(engine_config)


def write_config(path: Path, config: dict[str, Any]) -> Path:
    path.write_text(json.dumps(config))
    return path
