"""The walk-forward scoreboard: windows, columns, out-of-sample cuts, and the look-ahead
rule (a window's row does not change when later bars do)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from trade_pipelines.agent.reflection.walk_forward import (
    PBO_OF_SEEDS,
    PBO_OF_VARIANTS,
    SCOREBOARD_COLUMNS,
    SYSTEMS,
    EvaluationWindow,
    evaluate_walk_forward,
    evaluation_windows,
)
from trade_pipelines.market_data.builtin import BENCHMARK_SYMBOL, VIX_SYMBOL, load_builtin_bars

SYMBOLS = ["AAPL", "JPM", "KO", "XOM", "MSFT", "PFE"]
HISTORY, FIRST_TEST, LAST = date(2014, 1, 2), date(2016, 1, 4), date(2017, 12, 29)
PERTURBED_AFTER = date(2016, 12, 30)


def _bars() -> pd.DataFrame:
    every = load_builtin_bars()
    wanted = every["symbol"].isin([*SYMBOLS, BENCHMARK_SYMBOL, VIX_SYMBOL])
    return every[wanted & (every["as_of"] >= HISTORY) & (every["as_of"] <= LAST)] \
        .reset_index(drop=True)


STEPS: list[tuple[str, int]] = []


@pytest.fixture(scope="module")
def evaluation():
    return evaluate_walk_forward(_bars(), SYMBOLS, BENCHMARK_SYMBOL, VIX_SYMBOL, FIRST_TEST,
                                 LAST, test_months=6,
                                 progress=lambda step, total: STEPS.append((step, total)))


def test_progress_counts_every_agent_run_and_window_against_the_total(evaluation) -> None:
    runs = 1 + sum(system.startswith("no_") for system in SYSTEMS)  # the agent, its ablations
    assert len(STEPS) == runs + len(evaluation.windows)
    assert {total for _, total in STEPS} == {len(STEPS)}
    assert [step for step, _ in STEPS][-1] == (f"window {evaluation.windows[-1].start}.."
                                               f"{evaluation.windows[-1].end}")


def test_windows_are_consecutive_and_cover_the_sessions() -> None:
    sessions = list(pd.bdate_range("2020-01-01", "2021-03-31").date)
    windows = evaluation_windows(sessions, date(2020, 1, 1), date(2021, 3, 31), months=6)
    assert windows == [EvaluationWindow(date(2020, 1, 1), date(2020, 6, 30)),
                       EvaluationWindow(date(2020, 7, 1), date(2020, 12, 31)),
                       EvaluationWindow(date(2021, 1, 1), date(2021, 3, 31))]


def test_one_row_per_window_and_system_with_the_published_columns(evaluation) -> None:
    board = evaluation.scoreboard
    assert list(board.columns) == SCOREBOARD_COLUMNS
    assert len(evaluation.windows) == 4
    assert len(board) == 4 * len(SYSTEMS)
    assert set(board["system"]) == set(SYSTEMS)
    assert (board["cleanliness"] == "replay").all()
    assert (board["window_start"] >= FIRST_TEST).all()
    for row in board.itertuples():
        assert row.sharpe_ci_low < row.sharpe_ci_high  # defined for every year-long row
        assert 0 <= row.random_percentile <= 100
        assert 0 <= row.exposure <= 1.0 + 1e-9
    hold = board[board["system"] == "buy_and_hold"]
    assert (hold["exposure"] > 0.9).all(), "buy-and-hold should be nearly fully invested"
    summary = evaluation.summary.set_index("system")
    assert set(summary.index) == set(SYSTEMS)
    assert summary.loc["combined", "n_trials"] >= 10
    assert summary.loc["buy_and_hold", "n_trials"] == 1
    assert summary.loc["no_evolution", "n_trials"] == 10  # the frozen seeded pool
    assert summary["deflated_sharpe"].notna().all()  # two test years: genome books of a year
    assert summary["deflated_sharpe"].between(0, 1).all()
    # each PBO says what it picks among; a baseline picks nothing
    assert summary.loc["no_evolution", "pbo_of"] == PBO_OF_SEEDS
    assert (summary.loc[["combined", "no_memory", "no_debate"], "pbo_of"]
            == PBO_OF_VARIANTS).all()
    assert summary.loc[["combined", "no_evolution"], "pbo"].between(0, 1).all()
    assert summary.loc["buy_and_hold", "pbo_of"] == ""
    assert summary.loc["buy_and_hold", "pbo"] != summary.loc["buy_and_hold", "pbo"]  # NaN


def test_a_windows_row_does_not_change_when_later_bars_do(evaluation) -> None:
    bars = _bars()
    later = bars["as_of"] > PERTURBED_AFTER
    rng = np.random.default_rng(7)
    shock = pd.Series(1.0, index=bars.index)
    shock[later] = rng.uniform(0.7, 1.3, later.sum())
    perturbed = bars.assign(close=bars["close"] * shock)
    again = evaluate_walk_forward(perturbed, SYMBOLS, BENCHMARK_SYMBOL, VIX_SYMBOL,
                                  FIRST_TEST, LAST, test_months=6)
    before = evaluation.scoreboard
    early = before["window_end"] <= PERTURBED_AFTER
    assert early.sum() == 2 * len(SYSTEMS)
    pd.testing.assert_frame_equal(again.scoreboard[early].reset_index(drop=True),
                                  before[early].reset_index(drop=True))
    # and the perturbation did reach the later windows
    late = ~early
    assert not again.scoreboard[late]["total_return"].equals(before[late]["total_return"])


def test_random_entries_average_the_seeds_figures_not_their_returns() -> None:
    from trade_pipelines.agent.reflection.walk_forward import _seeds_averaged

    frame = pd.DataFrame({
        "window_start": [date(2020, 1, 2)] * 3, "system": ["combined", "random_entries/0",
                                                         "random_entries/1"],
        "sharpe": [0.5, 0.2, 0.6], "max_drawdown": [-0.1, -0.3, -0.1], "trades": [4, 3, 6],
        "cleanliness": ["replay"] * 3})
    out = _seeds_averaged(frame, ["window_start"], ["combined", "random_entries"])
    assert out["system"].tolist() == ["combined", "random_entries"]
    row = out.set_index("system").loc["random_entries"]
    assert row["sharpe"] == pytest.approx(0.4)
    assert row["max_drawdown"] == pytest.approx(-0.2)  # each seed's own drawdown, averaged
    assert row["trades"] == 4 and row["cleanliness"] == "replay"


def test_no_measured_trial_spread_gives_no_deflated_sharpe_for_many_trials() -> None:
    from trade_pipelines.agent.reflection.walk_forward import SystemRecord, _summary

    days = list(pd.bdate_range("2020-01-01", periods=120).date)
    returns = pd.Series(np.random.default_rng(3).normal(0.001, 0.01, len(days)), index=days)
    record = SystemRecord(returns, returns * 0 + 0.5, returns * 0)
    board = pd.DataFrame({"window_start": [days[0]] * 2, "system": ["combined", "buy_and_hold"],
                          "sharpe": [1.0, 0.5]})
    summary = _summary(board, {"combined": record, "buy_and_hold": record},
                       ["combined", "buy_and_hold"], pd.DataFrame(), 40, 1).set_index("system")
    assert np.isnan(summary.loc["combined", "deflated_sharpe"])  # 40 trials, spread unknown
    assert 0 < summary.loc["buy_and_hold", "deflated_sharpe"] < 1  # one trial: the plain PSR


def test_the_agent_reads_the_stored_headlines_as_a_replay_does() -> None:
    """Bad news on every name every session changes the agent's trades in the
    scoreboard (before, the scoreboard's agent ran without the stored headlines)."""
    from datetime import datetime, time

    from trade_pipelines.market_data.calendar import exchange_sessions

    first, last = date(2016, 1, 4), date(2016, 6, 30)
    bars = _bars()
    bars = bars[bars["as_of"] <= last]
    news = pd.DataFrame([
        {"news_id": f"N{i}-{symbol}", "symbol": symbol,
         "headline": f"{symbol} faces fraud investigation; losses and default fears mount",
         "body": "", "language": "en", "generated": False,
         "published_at": datetime.combine(day, time(15)),
         "available_at": datetime.combine(day, time(15))}
        for i, day in enumerate(exchange_sessions(first, last)) for symbol in SYMBOLS])

    def agent_row(headlines: pd.DataFrame | None) -> pd.Series:
        evaluation = evaluate_walk_forward(bars, SYMBOLS, BENCHMARK_SYMBOL, VIX_SYMBOL,
                                           first, last, test_months=6, systems=("combined",),
                                           headlines=headlines)
        return evaluation.scoreboard.set_index("system").loc["combined"]

    unread, read = agent_row(None), agent_row(news)
    assert (read["trades"], read["total_return"]) != (unread["trades"],
                                                      unread["total_return"])
