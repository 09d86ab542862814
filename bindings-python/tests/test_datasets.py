"""Datasets named in the engine's configuration, exported by Python workers: a Parquet file and
a PostgreSQL query (against the server `scripts/test` starts; `EXPORT_CORE_PG_URL`)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import export_core as ec


def owner() -> ec.Principal:
    return ec.Principal("u-1", "org-1")


def pg_url() -> str:
    url = os.environ.get("EXPORT_CORE_PG_URL", "").strip()
    if not url:
        if os.environ.get("EXPORT_CORE_REQUIRE_SERVICES") == "1":
            pytest.fail("EXPORT_CORE_PG_URL is unset and EXPORT_CORE_REQUIRE_SERVICES=1 forbids skipping")
        pytest.skip("EXPORT_CORE_PG_URL is unset")
    return url


def test_a_parquet_dataset_is_exported_by_a_job(tmp_path: Path, engine_config: dict[str, Any]) -> None:
    path = tmp_path / "products.parquet"
    table = pa.table({"id": [1, 2, 3], "sku": ["A-1", "B-2", "C-3"], "cost": [1.5, 2.0, 2.5]})
    pq.write_table(table, path, row_group_size=2)
    config = {
        **engine_config,
        "datasets": {"products": {"parquet": str(path), "columns": ["id", "sku"], "headers": {"sku": "SKU"}}},
    }
    engine = ec.Engine(config)
    job = engine.create(owner(), {"schema": "products", "format": "csv"})
    outcome = engine.run_once()
    assert outcome is not None and outcome["status"] == "succeeded", outcome
    assert engine.download(owner(), job["id"]).read() == b"id,SKU\n1,A-1\n2,B-2\n3,C-3\n"
    # Another owner sees nothing of it.
    with pytest.raises(ec.NotFound):
        engine.download(ec.Principal("u-2", "org-1"), job["id"])


def test_a_typo_or_a_missing_column_in_a_dataset_is_a_config_error(tmp_path: Path, engine_config: dict[str, Any]) -> None:
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"id": [1]}), path)
    with pytest.raises(ec.ConfigError, match="querry"):
        ec.Engine({**engine_config, "datasets": {"t": {"querry": "SELECT 1"}}})
    with pytest.raises(ec.ConfigError, match="datasets.t"):
        ec.Engine({**engine_config, "datasets": {"t": {"parquet": str(path), "columns": ["nope"]}}})


def test_a_postgres_query_dataset_is_exported_by_a_job(engine_config: dict[str, Any]) -> None:
    config = {
        **engine_config,
        "databases": {"shop": {"url": pg_url(), "tls": "disable"}},
        "datasets": {
            "numbers": {
                "database": "shop",
                "query": "SELECT g AS id, 'n-' || g AS label, ARRAY[g, g * 2] AS pair FROM generate_series(1, 250) g",
                "batch_rows": 100,
            }
        },
    }
    engine = ec.Engine(config)
    job = engine.create(owner(), {"schema": "numbers", "format": "jsonlines", "fields": {"include": ["id", "pair"]}})
    outcome = engine.run_once()
    assert outcome is not None and outcome["status"] == "succeeded", outcome
    lines = engine.download(owner(), job["id"]).read().decode().splitlines()
    assert len(lines) == 250
    assert lines[0] == '{"id":1,"pair":[1,2]}' and lines[-1] == '{"id":250,"pair":[250,500]}'


def test_a_host_dataset_takes_its_rows_from_the_workers_data_callable(engine_config: dict[str, Any]) -> None:
    config = {**engine_config, "datasets": {"orders": {"host": ["id:Int64", "customer:Utf8"], "headers": {"customer": "Customer"}}}}
    engine = ec.Engine(config)
    job = engine.create(owner(), {"schema": "orders", "format": "csv"})
    seen: list[str] = []

    def data(request: dict[str, Any]) -> Any:
        seen.append(request["schema"])
        return [{"id": 7, "customer": "ada"}, {"id": 8, "customer": "bob"}]

    outcome = engine.run_once(data=data)
    assert outcome is not None and outcome["status"] == "succeeded", outcome
    assert seen == ["orders"]
    assert engine.download(owner(), job["id"]).read() == b"id,Customer\n7,ada\n8,bob\n"

    # Without the host's data the job fails, naming the dataset; nothing is left running.
    second = engine.create(owner(), {"schema": "orders", "format": "csv"})
    outcome = engine.run_once()
    assert outcome is not None and outcome["status"] == "failed", outcome
    assert "dataset `orders` takes its rows from the host" in engine.status(owner(), second["id"])["error"]["message"]


def test_a_host_dataset_with_a_bad_type_is_a_config_error(engine_config: dict[str, Any]) -> None:
    with pytest.raises(ec.ConfigError, match="datasets.orders.host"):
        ec.Engine({**engine_config, "datasets": {"orders": {"host": ["id:Integer"]}}})
