"""Controls and order outcomes through the real asset graph: a replay depends only on the
data and the recorded control events, never on when it runs, and every order ends in a
terminal state that a re-run of an earlier month does not rewrite."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from replay_helpers import table

from trade_pipelines.agent.execution.ledger import TERMINAL_STATUSES
from trade_pipelines.cli import main, run_replay
from trade_pipelines.warehouse.schema import EXPORTABLE_TABLES

# A busy autumn for the built-in 20 symbols: entries most days, stops and time exits.
START, END = date(2018, 10, 1), date(2018, 11, 30)
SYMBOLS = ""
FROM = date(2018, 10, 22)          # a Monday: the first session the control applies to
BEFORE_FROM = date(2018, 10, 19)   # the session before it
RESUMED = date(2018, 10, 29)
# What an order looked like when it was placed; its outcome may be known only later.
SUBMISSION = ["as_of", "order_id", "sequence", "account", "decision_id", "strategy_id",
              "symbol", "side", "quantity", "order_type", "purpose", "verdict", "reason"]


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """October and November 2018 with no control event."""
    home = tmp_path_factory.mktemp("baseline") / "home"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TRADE_PIPELINES_HOME", str(home))
        patch.setenv("DAGSTER_HOME", str(home / "dagster_home"))
        assert run_replay(START, END, SYMBOLS, progress=False)
    return home


def _days(frame: pd.DataFrame, *columns: str) -> pd.DataFrame:
    for column in columns:
        frame[column] = pd.to_datetime(frame[column]).dt.date
    return frame


def _orders(home: Path) -> pd.DataFrame:
    return _days(table(home, "orders"), "as_of", "resolved_as_of")


def _fills(home: Path) -> pd.DataFrame:
    fills = _days(table(home, "fills"), "as_of")
    return fills.merge(_orders(home)[["order_id", "purpose"]], on="order_id")


def _rows(home: Path, name: str, before: date | None = None) -> pd.DataFrame:
    # where a report's file lies and when a bad bar was quarantined differ by run
    frame = table(home, name).drop(columns=["path", "recorded_at"], errors="ignore")
    if before is not None:
        frame = frame[pd.to_datetime(frame["as_of"]) < pd.Timestamp(before)]
    return frame.reset_index(drop=True)


def test_every_order_of_a_replay_ends_in_a_terminal_state(baseline: Path) -> None:
    orders, fills = _orders(baseline), _fills(baseline)
    last = _days(table(baseline, "accounts"), "as_of")["as_of"].max()  # the last session
    assert last == END
    resolved = orders[orders["as_of"] < last]
    assert len(resolved) > 100
    assert set(resolved["status"]) <= set(TERMINAL_STATUSES)
    assert resolved["resolution"].notna().all() and resolved["resolved_as_of"].notna().all()
    # an order placed at the last close has no next bar yet (there may be none placed)
    assert set(orders.loc[orders["as_of"] == last, "status"]) <= {"pending", "rejected"}
    filled = fills.groupby("order_id")["quantity"].sum()
    assert (orders["filled_quantity"] - orders["order_id"].map(filled).fillna(0.0)).abs() \
        .max() < 1e-9
    assert ((orders["filled_quantity"] + orders["unfilled_quantity"] - orders["quantity"])
            .abs() < 1e-9).all()
    # every accepted order is resolved at the next session (every built-in symbol has a
    # bar in each), whichever monthly commit placed it and whichever resolved it
    sessions = sorted(_days(table(baseline, "accounts"), "as_of")["as_of"].unique())
    next_session = dict(zip(sessions, sessions[1:], strict=False))
    accepted = resolved[resolved["verdict"] == "accepted"]
    assert len(accepted) > 100 and {d.month for d in accepted["as_of"]} == {10, 11}
    assert (accepted["resolved_as_of"] == accepted["as_of"].map(next_session)).all()


def test_the_order_asset_reports_counts_by_status(baseline: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from dagster import AssetKey, DagsterInstance

    monkeypatch.setenv("DAGSTER_HOME", str(baseline / "dagster_home"))
    event = DagsterInstance.get().get_latest_materialization_event(
        AssetKey("risk_checked_orders"))
    assert event is not None and event.asset_materialization is not None
    counts = event.asset_materialization.metadata["status"].value
    orders = _orders(baseline)
    assert counts == orders["status"].value_counts().sort_index().to_dict()
    assert "filled" in counts and "accepted" not in counts


def test_rerunning_an_earlier_month_rewrites_no_order_row(baseline: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    home = tmp_path / "copy"
    shutil.copytree(baseline, home)
    monkeypatch.setenv("TRADE_PIPELINES_HOME", str(home))
    monkeypatch.setenv("DAGSTER_HOME", str(home / "dagster_home"))
    assert run_replay(START, date(2018, 10, 31), SYMBOLS, progress=False)
    for name in ("orders", "fills", "positions", "accounts", "trades"):
        pd.testing.assert_frame_equal(_rows(home, name), _rows(baseline, name), obj=name)


def test_a_pause_from_a_past_session_refuses_entries_and_keeps_the_days_before(
        project_home: Path, baseline: Path) -> None:
    assert main(["pause", "--reason", "what-if review", "--from", str(FROM)]) == 0
    assert run_replay(START, END, SYMBOLS, progress=False)
    orders, fills = _orders(project_home), _fills(project_home)
    entries = orders[(orders["purpose"] == "entry") & (orders["as_of"] >= FROM)]
    assert len(entries) > 0
    assert (entries["status"] == "rejected").all()
    assert entries["resolution"].str.contains(
        f"entry refused: trading paused from {FROM} by .*: what-if review").all()
    # entries decided the session before, due to fill in the pause, are cancelled
    due = orders[(orders["purpose"] == "entry") & (orders["as_of"] == BEFORE_FROM)
                 & (orders["verdict"] == "accepted")]
    assert len(due) > 0
    assert (due["status"] == "cancelled").all() and (due["resolved_as_of"] == FROM).all()
    assert due["resolution"].str.contains("what-if review").all()
    assert fills[(fills["as_of"] >= FROM) & (fills["side"] == "buy")].empty
    # protective exits still fill
    exits = fills[(fills["as_of"] >= FROM) & (fills["side"] == "sell")]
    assert len(exits) > 0
    assert set(exits["purpose"]) <= {"stop_loss", "take_profit", "time_exit"}
    # every table's rows before the pause are those of a replay without it
    for name in EXPORTABLE_TABLES:
        if name == "orders":
            continue
        pd.testing.assert_frame_equal(_rows(project_home, name, FROM),
                                      _rows(baseline, name, FROM), obj=name)
    paused = _rows(project_home, "orders", FROM)
    plain = _rows(baseline, "orders", FROM)
    pd.testing.assert_frame_equal(paused[SUBMISSION], plain[SUBMISSION])
    known = pd.to_datetime(plain["resolved_as_of"]) < pd.Timestamp(FROM)
    assert known.sum() > 50
    pd.testing.assert_frame_equal(paused[known], plain[known])


def test_controls_recorded_now_change_no_replay_of_past_days(project_home: Path,
                                                             baseline: Path) -> None:
    assert main(["pause", "--reason", "review before the open"]) == 0
    assert main(["halt", "--reason", "and flatten"]) == 0
    assert run_replay(START, END, SYMBOLS, progress=False)
    for name in EXPORTABLE_TABLES:
        pd.testing.assert_frame_equal(_rows(project_home, name), _rows(baseline, name),
                                      obj=name)


def test_a_halt_flattens_every_position_at_the_next_bar(project_home: Path,
                                                        baseline: Path) -> None:
    assert main(["halt", "--reason", "broker outage", "--from", str(FROM)]) == 0
    assert main(["resume", "--from", str(RESUMED)]) == 0
    assert run_replay(START, END, SYMBOLS, progress=False)
    positions = _days(table(project_home, "positions"), "as_of")
    held = positions[positions["as_of"] == BEFORE_FROM]
    assert len(held) > 0
    fills = _fills(project_home)
    sold = fills[(fills["as_of"] == FROM) & (fills["side"] == "sell")] \
        .groupby(["account", "symbol"])["quantity"].sum()
    assert sold.to_dict() == held.set_index(["account", "symbol"])["quantity"].to_dict()
    orders = _orders(project_home)
    halts = orders[orders["purpose"] == "halt"]
    assert len(halts) > 0 and (halts["as_of"] == FROM).all()
    assert (halts["status"] == "filled").all() and (halts["resolved_as_of"] == FROM).all()
    # flat and refusing entries until the resume; trading again after it
    halted = (positions["as_of"] >= FROM) & (positions["as_of"] <= RESUMED)
    assert positions[halted].empty
    entries = orders[orders["purpose"] == "entry"]
    refused = entries[(entries["as_of"] >= FROM) & (entries["as_of"] < RESUMED)]
    assert len(refused) > 0 and (refused["status"] == "rejected").all()
    assert refused["resolution"].str.contains("trading halted").all()
    assert (entries.loc[entries["as_of"] >= RESUMED, "verdict"] == "accepted").any()
    assert not fills[(fills["as_of"] > RESUMED) & (fills["side"] == "buy")].empty
