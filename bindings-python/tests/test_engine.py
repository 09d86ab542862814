"""The Engine from Python: the job API under scopes and ownership, workers fed by a Python
callable, downloads, platforms, schedules, retention."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

import export_core as ec
from conftest import write_config

PERIOD = {"start": "2026-10-01T00:00:00+02:00", "end": "2026-10-02T00:00:00+02:00"}
V2_CSV = {"schema": "trip", "version": "v2", "audience": "opendata", "format": "csv", "period": PERIOD}


def owner() -> ec.Principal:
    return ec.Principal("u-1", "org-1")


def test_the_whole_lifecycle(engine: ec.Engine) -> None:
    job = engine.create(owner(), V2_CSV)
    assert job["status"] == "pending" and job["owner"]["user_id"] == "u-1"
    assert engine.status(owner(), job["id"])["status"] == "pending"
    assert [j["id"] for j in engine.list(owner())["jobs"]] == [job["id"]]

    seen: list[tuple[str, int]] = []
    outcome = engine.run_once(on_progress=lambda job_id, rows, expected: seen.append((job_id, rows)))
    assert outcome is not None and outcome["status"] == "succeeded" and outcome["job_id"] == job["id"]
    assert seen and all(j == job["id"] for j, _ in seen)
    assert [r for _, r in seen] == sorted(r for _, r in seen)
    assert engine.run_once() is None

    status = engine.status(owner(), job["id"])
    assert status["status"] == "succeeded" and status["progress"]["rows_done"] == outcome["rows"]

    with engine.download(owner(), job["id"]) as download:
        assert download.file_name.endswith(".csv") and download.content_type.startswith("text/csv")
        body = b"".join(iter(download))
        assert len(body) == download.size
        rows = list(csv.reader(io.StringIO(body.decode()), delimiter=";"))
        assert len(rows) - 1 == download.rows == outcome["rows"]
    assert download.closed
    with pytest.raises(ValueError):
        download.read()

    engine.delete(owner(), job["id"])
    with pytest.raises(ec.NotFound):
        engine.get(owner(), job["id"])


def test_another_user_or_organisation_sees_nothing(engine: ec.Engine) -> None:
    job = engine.create(owner(), V2_CSV)
    engine.run_once()
    for other in (ec.Principal("u-2", "org-1"), ec.Principal("u-1", "org-2"), ec.Principal("u-3")):
        assert engine.list(other)["jobs"] == []
        for call in (engine.get, engine.status, engine.download, engine.cancel, engine.delete):
            with pytest.raises(ec.NotFound) as err:
                call(other, job["id"])
            assert err.value.code == "NOT_FOUND" and isinstance(err.value, LookupError)
    # Untouched by all that.
    assert engine.get(owner(), job["id"])["status"] == "succeeded"


def test_each_action_needs_its_scope(engine: ec.Engine) -> None:
    reader = ec.Principal("u-1", "org-1", scopes="READ_EXPORTS")
    with pytest.raises(ec.Forbidden) as err:
        engine.create(reader, V2_CSV)
    assert "export.create" in str(err.value)
    job = engine.create(owner(), V2_CSV)
    with pytest.raises(ec.Forbidden):
        engine.cancel(reader, job["id"])
    with pytest.raises(ec.Forbidden):
        engine.list(ec.Principal("u-1", "org-1", scopes="export.create"))
    with pytest.raises(ec.ValidationError, match="export.nope"):
        ec.Principal("u-1", scopes="export.nope")


@pytest.mark.parametrize(
    "request_, named",
    [
        ({**V2_CSV, "verison": "v2"}, "verison"),
        ({**V2_CSV, "audience": "everyone"}, "everyone"),
        ({**V2_CSV, "format": "pdf"}, "pdf"),
        ({**V2_CSV, "period": {"start": "2026-10-02", "end": "2026-10-01"}}, "start"),
        ({**V2_CSV, "fields": {"include": ["nope"]}}, "nope"),
        ({**V2_CSV, "options": {"bmo": True}}, "bmo"),
    ],
)
def test_bad_requests_create_nothing(engine: ec.Engine, request_: dict[str, Any], named: str) -> None:
    with pytest.raises(ec.ValidationError) as err:
        engine.create(owner(), request_)
    assert named in str(err.value)
    assert engine.list(owner())["jobs"] == []


def test_cancel_a_pending_job_and_download_is_a_conflict(engine: ec.Engine) -> None:
    job = engine.create(owner(), V2_CSV)
    with pytest.raises(ec.Conflict):
        engine.download(owner(), job["id"])
    assert engine.cancel(owner(), job["id"])["status"] == "cancelled"
    assert engine.run_once() is None
    with pytest.raises(ec.Conflict):
        engine.download(owner(), job["id"])


def test_a_worker_exports_what_the_hosts_callable_returns(engine: ec.Engine, engine_config: dict[str, Any]) -> None:
    requests: list[dict[str, Any]] = []
    job = engine.create(owner(), V2_CSV)

    def data(request: dict[str, Any]) -> Any:
        requests.append(request)
        return trip_rows()

    outcome = engine.run_once(data=data)
    assert outcome is not None and outcome["status"] == "succeeded", outcome
    assert requests[0]["audience"] == "opendata" and requests[0]["period"]["start"].startswith("2026-09-30T22:00:00")
    body = engine.download(owner(), job["id"]).read()
    assert body.count(b"\n") == 1 + outcome["rows"] and 0 < outcome["rows"] <= 500


def test_a_raising_data_callable_fails_the_job_and_propagates(engine: ec.Engine) -> None:
    job = engine.create(owner(), V2_CSV)

    def data(request: dict[str, Any]) -> Any:
        raise ConnectionError("the catalogue database is down")

    with pytest.raises(ConnectionError, match="catalogue database"):
        engine.run_once(data=data)
    status = engine.status(owner(), job["id"])
    assert status["status"] in ("pending", "failed") and status["status"] != "running"


def test_config_from_a_toml_or_json_path_and_typos(tmp_path: Path, engine_config: dict[str, Any]) -> None:
    path = write_config(tmp_path / "engine.json", engine_config)
    ec.Engine(str(path)).create(owner(), V2_CSV)
    toml = tmp_path / "engine.toml"
    toml.write_text(f'[job_store]\nurl = "{engine_config["job_store"]["url"]}"\n[storage]\nurl = "{engine_config["storage"]["url"]}"\n')
    assert len(ec.Engine(toml).list(owner())["jobs"]) == 1
    with pytest.raises(ec.ConfigError, match="urll"):
        ec.Engine({"job_store": {"urll": "x"}})
    with pytest.raises(ec.ConfigError, match="storag"):
        ec.Engine({"storag": {}})
    with pytest.raises(TypeError):
        ec.Engine(42)


def test_platforms(engine: ec.Engine) -> None:
    admin = ec.Principal("root", None, scopes="READ_EXPORTS,WRITE_EXPORTS,export.admin")
    saved = engine.create_platform(admin, "monthly-opendata-csv", V2_CSV, description="for the portal")
    assert saved["name"] == "monthly-opendata-csv"
    assert [p["name"] for p in engine.list_platforms(admin)] == ["monthly-opendata-csv"]
    assert engine.get_platform(admin, "monthly-opendata-csv")["request"]["format"] == "csv"
    with pytest.raises(ec.Conflict):
        engine.create_platform(admin, "monthly-opendata-csv", V2_CSV)
    engine.delete_platform(admin, "monthly-opendata-csv")
    with pytest.raises(ec.NotFound):
        engine.get_platform(admin, "monthly-opendata-csv")


def test_the_monthly_opendata_schedules_and_a_tick(engine: ec.Engine) -> None:
    admin = ec.Principal("root", None, scopes="READ_EXPORTS,WRITE_EXPORTS,export.admin")
    installed = engine.install_monthly_opendata(admin)
    assert installed and all(s["enabled"] for s in installed)
    listed = engine.list_schedules(admin)
    assert {s["id"] for s in listed} == {s["id"] for s in installed}
    off = engine.set_schedule_enabled(admin, installed[0]["id"], False)
    assert off["enabled"] is False
    report = engine.tick_scheduler()
    assert set(report) >= {"fired", "missed", "finished", "errors"}
    engine.delete_schedule(admin, installed[0]["id"])
    with pytest.raises(ec.ExportError):
        engine.set_schedule_enabled(ec.Principal("u-9"), installed[-1]["id"], False)


def test_purge_reports(engine: ec.Engine) -> None:
    report = engine.purge(dry_run=True)
    assert report["dry_run"] is True and report["jobs"] == []
    assert engine.purge()["dry_run"] is False


def trip_rows() -> pa.Table:
    """Trips in the trip input schema, as a host's own query would return them."""
    return pa.table(ec.sample_trips("2026-10-01", "2026-10-02", rows=500, seed=7))


def test_run_once_with_a_job_id_runs_that_job_only(engine: ec.Engine) -> None:
    first = engine.create(owner(), V2_CSV)
    second = engine.create(owner(), V2_CSV)
    outcome = engine.run_once(job_id=second["id"])
    assert outcome is not None and outcome["job_id"] == second["id"] and outcome["status"] == "succeeded"
    assert engine.status(owner(), first["id"])["status"] == "pending"
    assert engine.run_once(job_id=second["id"]) is None
    with pytest.raises(ec.NotFound):
        engine.run_once(job_id="00000000-0000-4000-8000-000000000000")
    # An id that is no job id names no job, as everywhere in the job API.
    with pytest.raises(ec.NotFound):
        engine.run_once(job_id="not-a-uuid")


def test_schedules_created_from_a_dict_fire_and_keep_their_runs(engine: ec.Engine) -> None:
    me = owner()
    spec = {
        "id": "hourly-opendata",
        "name": "opendata, hourly",
        "target": {"kind": "request", "request": V2_CSV},
        "trigger": {"kind": "interval", "every_minutes": 60, "anchor": "2020-01-01T00:00:00Z"},
        "period": "previous_day",
        "retry": {"max_attempts": 2},
    }
    created = engine.create_schedule(me, spec)
    assert created["id"] == "hourly-opendata" and created["owner"]["user_id"] == "u-1"
    assert created["next_run"] is not None
    assert engine.get_schedule(me, created["id"])["name"] == "opendata, hourly"
    with pytest.raises(ec.NotFound):
        engine.get_schedule(ec.Principal("u-2", "org-2"), created["id"])
    with pytest.raises(ec.Conflict):
        engine.create_schedule(me, spec)
    for typo, named in ((dict(spec, id="t1", trigerr={}), "trigerr"),
                        (dict(spec, id="t2", trigger={"kind": "cron", "expresion": "0 6 * * *"}), "expresion"),
                        (dict(spec, id="t3", trigger={"kind": "cron", "expression": "61 * * * *"}), "61")):
        with pytest.raises(ec.ValidationError, match=named):
            engine.create_schedule(me, typo)
    # The next run is the next hour boundary of the interval: nothing is due before it.
    import datetime as dt

    next_run = dt.datetime.fromisoformat(created["next_run"].replace("Z", "+00:00"))
    now = dt.datetime.now(dt.timezone.utc)
    assert dt.timedelta(0) < next_run - now <= dt.timedelta(minutes=60), (next_run, now)
    report = engine.tick_scheduler()
    assert report["fired"] == [] and report["errors"] == []
    assert engine.schedule_runs(me, created["id"]) == []
    assert engine.set_schedule_enabled(me, created["id"], False)["enabled"] is False
