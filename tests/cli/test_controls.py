"""``trade-pipelines pause | resume | halt | controls``: each control is an event in the
warehouse that says who, when (UTC), why and from which session."""

from __future__ import annotations

import getpass
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pytest

from trade_pipelines.cli import main
from trade_pipelines.control import APP_USER, load_events, record_control
from trade_pipelines.market_data.calendar import is_session, next_session_after
from trade_pipelines.settings import paths
from trade_pipelines.warehouse import Warehouse


def _store() -> Warehouse:
    return Warehouse(paths().warehouse)


def test_pause_resume_halt_are_recorded_with_who_when_why_and_from(
        project_home: Path, capsys: pytest.CaptureFixture) -> None:
    before = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    assert main(["pause", "--reason", "earnings week", "--from", "2019-03-11"]) == 0
    assert main(["halt", "--reason", "broker outage", "--from", "2019-03-13"]) == 0
    assert main(["resume", "--from", "2019-03-18"]) == 0
    after = datetime.now(UTC).replace(tzinfo=None)
    out = capsys.readouterr().out
    assert "Recorded pause effective from 2019-03-11" in out and "earnings week" in out
    stored = _store().query("SELECT * FROM control_events ORDER BY effective_from")
    assert list(stored["action"]) == ["pause", "halt", "resume"]
    assert list(pd.to_datetime(stored["effective_from"]).dt.date) == [
        date(2019, 3, 11), date(2019, 3, 13), date(2019, 3, 18)]
    assert list(stored["reason"]) == ["earnings week", "broker outage", ""]
    assert set(stored["recorded_by"]) == {getpass.getuser()}
    recorded = pd.to_datetime(stored["recorded_at"])
    assert ((recorded >= pd.Timestamp(before)) & (recorded <= pd.Timestamp(after))).all()
    assert stored["event_id"].is_unique
    # the log lists them, oldest session first, and says what the next session's state is
    assert main(["controls"]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert listing[0].startswith("2019-03-11  pause") and "earnings week" in listing[0]
    assert listing[2].startswith("2019-03-18  resume")
    assert listing[-1].endswith("trading active")


def test_a_control_without_from_applies_from_the_next_session(
        project_home: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["pause", "--reason", "review"]) == 0
    (event,) = load_events(_store())
    expected = next_session_after(datetime.now(UTC))
    assert event.effective_from == expected
    assert event.effective_from > date(2026, 1, 1) and is_session(event.effective_from)
    assert main(["controls"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == (
        f"Next session {expected}: trading paused from {expected} by "
        f"{getpass.getuser()}: review")


def test_a_pause_needs_a_reason_and_a_session(project_home: Path,
                                              capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit):
        main(["pause"])
    assert main(["pause", "--reason", " ", "--from", "2019-03-11"]) == 2
    assert "reason" in capsys.readouterr().err
    assert main(["halt", "--from", "2019-03-09"]) == 2  # a Saturday
    assert "2019-03-11" in capsys.readouterr().err
    assert load_events(_store()) == []


def test_the_log_exports_to_csv_and_the_app_is_named_as_the_recorder(
        project_home: Path, tmp_path: Path) -> None:
    record_control(_store(), "halt", "circuit check", APP_USER, date(2019, 3, 13))
    target = tmp_path / "controls.csv"
    assert main(["controls", "--out", str(target)]) == 0
    exported = pd.read_csv(target)
    assert list(exported.columns) == ["event_id", "action", "effective_from", "reason",
                                      "recorded_by", "recorded_at"]
    assert exported[["action", "effective_from", "recorded_by"]].values.tolist() == [
        ["halt", "2019-03-13", "supervisor app"]]


def test_a_past_from_warns_that_the_stored_ledger_needs_a_replay(
        project_home: Path, capsys: pytest.CaptureFixture) -> None:
    store = _store()
    store.migrate()
    store.append("accounts", pd.DataFrame([{
        "as_of": date(2019, 3, 29), "account": "combined", "cash": 1.0, "equity": 1.0,
        "gross_exposure": 0.0, "daily_return": 0.0, "drawdown": 0.0,
        "benchmark_close": 1.0}]))
    assert main(["pause", "--reason", "what if", "--from", "2019-03-11"]) == 0
    assert "replay from 2019-03-11" in capsys.readouterr().out
