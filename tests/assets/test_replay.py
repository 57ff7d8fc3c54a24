"""Replays through the real asset graph on a temporary home: the ledger's invariants,
idempotence and determinism (a killed run: tests/assets/test_kill_resume.py)."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from replay_helpers import LEDGER_TABLES, REVIEW_TABLES, SYMBOLS, table

from trade_pipelines.cli import run_replay


@pytest.fixture(scope="module")
def replayed_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two months of five symbols, replayed once for the read-only tests below."""
    home = tmp_path_factory.mktemp("replayed") / "home"
    env = {"TRADE_PIPELINES_HOME": str(home), "DAGSTER_HOME": str(home / "dagster_home")}
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        assert run_replay(date(2019, 2, 1), date(2019, 3, 31), SYMBOLS, progress=False)
    return home


def test_every_layer_writes_rows(replayed_home: Path) -> None:
    for name in ("bars", "features", "regimes", "plans", "strategy_evaluations", "proposals",
                 "decisions", "orders", "fills", "positions", "accounts", "reports"):
        assert len(table(replayed_home, name)) > 0, f"{name} is empty"
    accounts = table(replayed_home, "accounts")
    assert set(accounts["account"]) == {"aggressive", "conservative", "combined"}
    first = accounts[accounts["as_of"] == accounts["as_of"].min()]
    assert (first["equity"] <= 1_000_000.0 + 1e-6).all()


def test_orders_fill_at_the_next_bar_never_the_same_one(replayed_home: Path) -> None:
    orders = table(replayed_home, "orders")
    fills = table(replayed_home, "fills").merge(
        orders[["order_id", "as_of"]].rename(columns={"as_of": "ordered"}), on="order_id")
    assert len(fills) > 0
    assert (fills["as_of"] > fills["ordered"]).all()
    sessions = sorted(table(replayed_home, "accounts")["as_of"].unique())
    next_session = {a: b for a, b in zip(sessions, sessions[1:], strict=False)}
    assert all(next_session[o] == f for o, f in zip(fills["ordered"], fills["as_of"],
                                                     strict=True))


def test_equity_is_cash_plus_positions(replayed_home: Path) -> None:
    accounts = table(replayed_home, "accounts")
    positions = table(replayed_home, "positions")
    value = positions.groupby(["as_of", "account"])["market_value"].sum()
    merged = accounts.set_index(["as_of", "account"]).join(value).fillna({"market_value": 0.0})
    assert ((merged["cash"] + merged["market_value"] - merged["equity"]).abs() < 0.05).all()
    assert (accounts["cash"] >= -1e-6).all()


def test_risk_limits_hold_every_day(replayed_home: Path) -> None:
    positions = table(replayed_home, "positions")
    # a position is sized under 30% of equity; it may drift above only by price moves
    accounts = table(replayed_home, "accounts")
    gross = accounts["gross_exposure"] / accounts["equity"]
    assert (gross <= 1.5 + 1e-9).all()
    assert (positions["weight"] <= 0.40).all()


def test_reports_are_written_per_trading_day(replayed_home: Path) -> None:
    every = table(replayed_home, "reports")
    reports = every[every["kind"] == "daily"]
    sessions = table(replayed_home, "accounts")["as_of"].unique()
    assert len(reports) == len(sessions)
    # and the reviews of the weeks, the month and the quarter that closed in the window
    assert set(every["kind"]) == {"daily", "weekly", "monthly", "quarterly"}
    assert all(Path(p).with_suffix(".html").exists() for p in every["path"])
    latest = Path(reports.sort_values("as_of")["path"].iloc[-1])
    text = latest.read_text()
    for section in ("## Performance today", "## Accounts compared", "## Best trade",
                    "## Worst trade", "## Plan for the next session", "## Strategy gene pool"):
        assert section in text


def test_partitions_show_as_materialized(replayed_home: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from dagster import AssetKey, DagsterInstance

    monkeypatch.setenv("DAGSTER_HOME", str(replayed_home / "dagster_home"))
    instance = DagsterInstance.get()
    for name in ("market_bars", "debate_decisions", "account_values", "daily_reports"):
        keys = instance.get_materialized_partitions(AssetKey(name))
        assert "2019-01-01" in set(keys), name


def test_replaying_the_same_range_again_duplicates_nothing(
        replayed_home: Path, project_home: Path) -> None:
    os.environ["TRADE_PIPELINES_HOME"] = str(replayed_home)
    os.environ["DAGSTER_HOME"] = str(replayed_home / "dagster_home")
    before = {name: table(replayed_home, name) for name in LEDGER_TABLES}
    assert run_replay(date(2019, 2, 1), date(2019, 3, 31), SYMBOLS, progress=False)
    for name in LEDGER_TABLES:
        pd.testing.assert_frame_equal(table(replayed_home, name), before[name])


def test_two_fresh_replays_give_identical_fills(project_home: Path, tmp_path: Path,
                                               replayed_home: Path) -> None:
    assert run_replay(date(2019, 2, 1), date(2019, 3, 31), SYMBOLS, progress=False)
    for name in LEDGER_TABLES:
        pd.testing.assert_frame_equal(table(project_home, name), table(replayed_home, name))


def test_a_replay_split_in_two_runs_equals_one_run(project_home: Path,
                                                   replayed_home: Path) -> None:
    assert run_replay(date(2019, 2, 1), date(2019, 2, 28), SYMBOLS, progress=False)
    assert run_replay(date(2019, 3, 1), date(2019, 3, 31), SYMBOLS, progress=False)
    for name in (*LEDGER_TABLES, *REVIEW_TABLES):
        pd.testing.assert_frame_equal(table(project_home, name), table(replayed_home, name))


def test_every_closed_trade_leads_back_to_its_debate(replayed_home: Path) -> None:
    trades = table(replayed_home, "trades")
    decisions = table(replayed_home, "decisions")
    assert len(trades) > 0
    linked = trades.merge(decisions[["decision_id", "symbol", "strategy_id", "as_of"]],
                          on="decision_id", suffixes=("", "_decided"))
    assert len(linked) == len(trades)  # every trade opened in the window has its debate
    assert (linked["symbol"] == linked["symbol_decided"]).all()
    assert (linked["as_of_decided"] < linked["opened_as_of"]).all()
    # and each memory quotes that debate
    memories = table(replayed_home, "memories")
    assert len(memories) > 0
    assert set(memories["why"]) <= set(decisions["summary"])


def test_a_replay_covers_exactly_the_days_asked_and_can_resume_mid_month(
        project_home: Path, replayed_home: Path) -> None:
    assert run_replay(date(2019, 2, 1), date(2019, 3, 13), SYMBOLS, progress=False)
    days = pd.to_datetime(table(project_home, "accounts")["as_of"]).dt.date
    assert days.min() >= date(2019, 2, 1) and days.max() == date(2019, 3, 13)
    reports = pd.to_datetime(table(project_home, "reports")["as_of"]).dt.date
    assert reports.max() == date(2019, 3, 13)
    # carrying on from the next day gives the same ledger as one run over both
    assert run_replay(date(2019, 3, 14), date(2019, 3, 31), SYMBOLS, progress=False)
    for name in (*LEDGER_TABLES, *REVIEW_TABLES):
        pd.testing.assert_frame_equal(table(project_home, name), table(replayed_home, name))


def test_a_reports_best_trade_quotes_the_debate_that_opened_it(replayed_home: Path) -> None:
    reports = table(replayed_home, "reports")
    summaries = set(table(replayed_home, "decisions")["summary"])
    quoted = [line.removeprefix("Why it was taken: ")
              for markdown in reports["markdown"] for line in markdown.splitlines()
              if line.startswith("Why it was taken: ")]
    assert quoted, "no report had a closed trade"
    assert set(quoted) <= summaries
