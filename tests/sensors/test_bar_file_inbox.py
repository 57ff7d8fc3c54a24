"""The inbox sensor: a dropped bar file is requested once, imported, and moved aside."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from dagster import DagsterInstance, build_sensor_context

from trade_pipelines.definitions import build_resources, defs
from trade_pipelines.jobs import import_bars_job
from trade_pipelines.resources import WarehouseResource
from trade_pipelines.sensors import bar_file_inbox
from trade_pipelines.settings import paths
from trade_pipelines.warehouse import Warehouse


def _bars(symbol: str = "ZZA", days: int = 5) -> pd.DataFrame:
    dates = pd.bdate_range("2024-01-02", periods=days).strftime("%Y-%m-%d")
    return pd.DataFrame({"symbol": symbol, "date": dates, "open": 10.0, "high": 11.0,
                         "low": 9.5, "close": 10.5, "volume": 1000})


def _tick(cursor: str | None):
    with DagsterInstance.ephemeral() as instance, build_sensor_context(
            instance=instance, cursor=cursor, repository_def=defs.get_repository_def(),
            resources=build_resources()) as context:
        return bar_file_inbox(context)


def test_a_new_file_is_requested_once_and_a_changed_one_again(project_home: Path) -> None:
    inbox = paths().inbox
    assert _tick(None).run_requests == []
    _bars().to_csv(inbox / "zza.csv", index=False)
    (inbox / "notes.txt").write_text("not bars")
    first = _tick(None)
    assert [r.tags["trade_pipelines/bar_file"] for r in first.run_requests] == ["zza.csv"]
    again = _tick(first.cursor)
    assert again.run_requests == []  # the cursor remembers the content
    _bars(days=6).to_csv(inbox / "zza.csv", index=False)
    changed = _tick(again.cursor)
    assert len(changed.run_requests) == 1
    assert changed.run_requests[0].run_key != first.run_requests[0].run_key


def test_the_requested_run_imports_and_moves_the_file(project_home: Path) -> None:
    inbox = paths().inbox
    _bars().to_csv(inbox / "zza.csv", index=False)
    request = _tick(None).run_requests[0]
    result = import_bars_job.execute_in_process(
        run_config=request.run_config,
        resources={"warehouse": WarehouseResource(home=str(project_home))})
    assert result.success
    stored = Warehouse(paths().warehouse).query("SELECT count(*) AS n FROM bars")
    assert stored["n"].iloc[0] == 5
    assert not (inbox / "zza.csv").exists()
    assert [p.name.endswith("-zza.csv") for p in (inbox / "imported").iterdir()] == [True]


def test_a_file_that_is_not_bars_fails_clearly_and_is_kept(project_home: Path) -> None:
    inbox = paths().inbox
    pd.DataFrame({"ticker": ["A"], "px": [1.0]}).to_csv(inbox / "junk.csv", index=False)
    request = _tick(None).run_requests[0]
    result = import_bars_job.execute_in_process(
        run_config=request.run_config,
        resources={"warehouse": WarehouseResource(home=str(project_home))},
        raise_on_error=False)
    assert not result.success
    failure = next(event for event in result.all_events if event.is_step_failure)
    assert "missing required column" in str(failure.event_specific_data.error)
    assert [p.name.endswith("-junk.csv") for p in (inbox / "rejected").iterdir()] == [True]
