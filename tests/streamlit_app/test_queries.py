"""The page's reads and transformations, without Streamlit."""

from __future__ import annotations

import json
from datetime import date

import duckdb
import pandas as pd
import pytest
from sample_data import SampleSummary

from streamlit_app import queries
from trade_pipelines.settings import Paths
from trade_pipelines.warehouse import Warehouse


def test_absent_and_unmigrated_warehouses_read_as_empty(home: Paths) -> None:
    warehouse = Warehouse(home.warehouse)
    assert queries.load_overview(warehouse).empty
    assert not home.warehouse.exists()  # reading never creates the file

    duckdb.connect(str(home.warehouse)).close()  # a file with no tables yet
    overview = queries.load_overview(warehouse)
    assert overview.empty and overview.latest is None
    assert queries.load_day(warehouse, date(2024, 3, 4)).decisions.empty


def test_overview_and_day_reads(filled_home: tuple[Paths, SampleSummary]) -> None:
    home, sample = filled_home
    warehouse = Warehouse(home.warehouse)
    overview = queries.load_overview(warehouse)
    assert overview.latest == sample.latest
    assert len(overview.history) == 3 * len(sample.days)
    assert list(overview.days["as_of"]) == sorted(sample.days, reverse=True)
    assert queries.default_day(overview.days) == sample.latest
    assert overview.days.iloc[0]["n_rejected"] == overview.days.iloc[0]["n_orders"] > 0
    assert (overview.days["n_cancelled"] == 0).all()

    detail = queries.load_day(warehouse, sample.days[0])
    assert list(detail.decisions["verdict"]) == ["execute", "adjust", "drop"]
    assert list(detail.orders["sequence"]) == sorted(detail.orders["sequence"])
    assert set(detail.memories["memory_id"]) == {"M-0000", "M-0001", "M-0002"}


def test_a_warehouse_missing_newer_columns_still_reads(
    filled_home: tuple[Paths, SampleSummary],
) -> None:
    """A warehouse created by an earlier schema lacks columns added since."""
    home, sample = filled_home
    with Warehouse(home.warehouse).transaction() as connection:
        connection.execute("ALTER TABLE orders DROP COLUMN sequence")
        connection.execute("ALTER TABLE orders DROP COLUMN purpose")
    orders = queries.orders_on(Warehouse(home.warehouse), sample.latest)
    assert len(orders) == len(sample.orders[sample.orders["as_of"] == sample.latest])
    assert orders["purpose"].isna().all()
    assert list(orders["account"]) == sorted(orders["account"], key=queries.ACCOUNTS.index)


def test_default_day_falls_back_to_orders() -> None:
    days = pd.DataFrame({"as_of": [date(2024, 3, 5), date(2024, 3, 4)],
                         "n_decisions": [0, 2], "n_orders": [1, 2], "n_rejected": [0, 0],
                         "n_cancelled": [0, 0]})
    assert queries.default_day(days) == date(2024, 3, 4)
    assert queries.default_day(days.assign(n_decisions=0)) == date(2024, 3, 5)
    assert queries.default_day(days.iloc[0:0]) is None


def test_benchmark_is_rebased_and_performance_measured_from_starting_capital() -> None:
    days = [date(2024, 3, 4), date(2024, 3, 5), date(2024, 3, 6)]
    history = pd.DataFrame([
        {"as_of": d, "account": a, "equity": e, "drawdown": 0.0, "benchmark_close": b}
        for d, b, equities in zip(days, [5000.0, 5100.0, 4950.0],
                                  [(1_020_000, 990_000, 1_000_000),
                                   (1_050_000, 980_000, 1_010_000),
                                   (1_029_000, 1_001_000, 1_005_000)], strict=True)
        for a, e in zip(queries.ACCOUNTS, equities, strict=True)])
    curves = queries.equity_curves(history)
    assert list(curves.columns) == [*queries.ACCOUNTS, queries.BENCHMARK]
    assert list(curves[queries.BENCHMARK]) == pytest.approx([1_000_000, 1_020_000, 990_000])

    table = queries.performance(curves).set_index("series")
    assert table.loc["aggressive", "total_return"] == pytest.approx(0.029)
    assert table.loc["aggressive", "drawdown"] == pytest.approx(1_029_000 / 1_050_000 - 1)
    # Never above the starting capital: the drawdown counts from $1,000,000.
    assert table.loc["conservative", "max_drawdown"] == pytest.approx(-0.02)
    assert table.loc["conservative", "drawdown"] == pytest.approx(0.0)
    assert table.loc["benchmark", "total_return"] == pytest.approx(-0.01)
    assert table.loc["benchmark", "max_drawdown"] == pytest.approx(990 / 1020 - 1)
    assert table.loc["combined", "excess_return"] == pytest.approx(0.005 + 0.01)
    assert pd.isna(table.loc["benchmark", "excess_return"])


def test_the_app_the_report_and_the_gene_pool_agree_on_the_same_returns() -> None:
    """One set of daily returns, three readers, the same hand-checked figures."""
    import math

    import numpy as np

    from trade_pipelines.agent.evolution.evaluation import (
        EVALUATION_WINDOW,
        TRADE_ALLOCATION,
        summarise_outcomes,
    )
    from trade_pipelines.agent.reflection.daily_report import account_metrics

    returns = [0.10, -0.05, 0.02, -0.10, 0.05]
    # equity 1.10, 1.045, 1.0659, 0.95931, 1.0072755 (millions)
    total, max_drawdown = 0.0072755, 0.95931 / 1.10 - 1
    sharpe = 0.004 / math.sqrt(0.02532 / 4) * math.sqrt(252)

    days = [date(2024, 3, 4 + i) for i in range(5)]
    equity = queries.STARTING_EQUITY * np.cumprod(1 + np.array(returns))
    app = queries.performance(pd.DataFrame({"combined": equity}, index=days)).iloc[0]
    report = account_metrics(pd.DataFrame({"as_of": days, "daily_return": returns}),
                             pd.DataFrame({"pnl": []}))
    # the gene pool's trades use TRADE_ALLOCATION of capital each: scale them back up
    pool = summarise_outcomes(np.array(returns) / TRADE_ALLOCATION)
    for figures in ((app["total_return"], app["max_drawdown"], app["sharpe"]),
                    (report["total"], report["max_drawdown"], report["sharpe"]),
                    (pool["total_return"], pool["max_drawdown"],
                     pool["sharpe"] * math.sqrt(252 / (5 * 365.25 / EVALUATION_WINDOW.days)))):
        assert figures == pytest.approx((total, max_drawdown, sharpe))
    assert app["drawdown"] == pytest.approx(1.0072755 / 1.10 - 1)


def test_missing_benchmark_leaves_accounts_intact() -> None:
    history = pd.DataFrame({"as_of": [date(2024, 3, 4)], "account": ["combined"],
                            "equity": [1_000_500.0], "drawdown": [0.0],
                            "benchmark_close": [None]})
    curves = queries.equity_curves(history)
    table = queries.performance(curves)
    assert list(table["series"]) == ["combined"]


def test_transcript_is_grouped_by_round_then_speaker_in_argument_order() -> None:
    transcript = json.dumps([
        {"round": 1, "role": "aggressive", "text": "Proposal"},
        {"round": 1, "role": "conservative", "text": "Objection 1"},
        {"round": 1, "role": "conservative", "text": "Objection 2"},
        {"round": 1, "role": "quant", "text": "Record"},
        {"round": 2, "role": "aggressive", "text": "Rebuttal"},
        {"round": 2, "role": "conservative", "text": "Residual"},
        {"round": 2, "role": "aggressive", "text": "I withdraw"},
        {"round": 2, "role": "judge", "text": "Verdict: DROP"},
    ])
    rounds = queries.parse_transcript(transcript)
    assert [r.number for r in rounds] == [1, 2]
    assert [(t.role, t.texts) for t in rounds[0].turns] == [
        ("aggressive", ["Proposal"]), ("conservative", ["Objection 1", "Objection 2"]),
        ("quant", ["Record"])]
    assert [t.role for t in rounds[1].turns] == ["aggressive", "conservative", "aggressive",
                                                 "judge"]


@pytest.mark.parametrize("raw", [None, "", "not json", "{}", "[]", float("nan")])
def test_odd_stored_values_do_not_break_parsing(raw: object) -> None:
    queries.parse_transcript(raw)
    assert isinstance(queries.parse_memory_ids(raw), list)


def test_report_on_reads_the_days_markdown(tmp_path) -> None:
    from trade_pipelines.warehouse import Warehouse

    store = Warehouse(tmp_path / "w.duckdb")
    store.migrate()
    store.append("reports", pd.DataFrame([{"as_of": date(2024, 3, 4), "kind": "daily",
                                           "path": "x.md", "markdown": "# Daily report"}]))
    assert queries.report_on(store, date(2024, 3, 4)) == "# Daily report"
    assert queries.report_on(store, date(2024, 3, 5)) == ""


def test_the_control_log_and_orders_stopped_by_controls(
    filled_home: tuple[Paths, SampleSummary],
) -> None:
    from trade_pipelines.control import APP_USER, record_control

    home, sample = filled_home
    warehouse = Warehouse(home.warehouse)
    assert queries.control_log(warehouse).empty
    record_control(warehouse, "resume", "", "bob", date(2024, 3, 8))
    record_control(warehouse, "pause", "review", APP_USER, date(2024, 3, 6))
    log = queries.control_log(warehouse)
    assert list(log["action"]) == ["pause", "resume"]
    assert list(log["recorded_by"]) == [APP_USER, "bob"]
    latest = queries.orders_on(warehouse, sample.latest)
    assert queries.stopped_by_controls(latest) == len(latest) > 0
    first = queries.orders_on(warehouse, sample.days[0])
    assert queries.stopped_by_controls(first) == 0
    assert set(first["status"]) == {"filled", "rejected"}
