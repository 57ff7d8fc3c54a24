"""The gene pool's weekly evaluation: a year of known outcomes, watch then elimination,
reinstatement at the floor, and no outcome known after the evaluation day."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from trade_pipelines.agent.evolution.evaluation import (
    EVALUATION_WINDOW,
    POOL_FLOOR,
    TRADEABLE,
    apply_floor,
    book_figures,
    evaluate_pool,
    genome_records,
    score_day,
    strategy_score,
    summarise_outcomes,
    week_ends,
)
from trade_pipelines.agent.evolution.genomes import StrategyGenome
from trade_pipelines.agent.reflection.performance import daily_stats

START = date(2023, 1, 6)
WEEKS = [START + timedelta(weeks=i) for i in range(6)]


def genome(strategy_id: str) -> StrategyGenome:
    return StrategyGenome(strategy_id, f"genome {strategy_id}", "trend", "momentum",
                          {"min_return": 0.05}, max_holding_days=10)


def outcomes(rows: list[tuple[str, date, float]]) -> pd.DataFrame:
    return pd.DataFrame([{"symbol": "AAA", "signal_as_of": known - timedelta(days=5),
                          "known_as_of": known, "return": ret, "strategy_id": sid}
                         for sid, known, ret in rows],
                        columns=["symbol", "signal_as_of", "known_as_of", "return",
                                 "strategy_id"])


PASSING = (0.06, 0.05, -0.03)  # wins two in three, Sharpe well above the bar
FAILING = (-0.03,)             # never wins


def record(strategy_id: str, n: int, pattern: tuple[float, ...]) -> list[tuple]:
    """``n`` outcomes three days apart, known within the year before START, returns
    cycling through ``pattern``."""
    first = START - timedelta(days=200)
    return [(strategy_id, first + timedelta(days=3 * i), pattern[i % len(pattern)])
            for i in range(n)]


def statuses(frame: pd.DataFrame, strategy_id: str) -> list[str]:
    return frame[frame["strategy_id"] == strategy_id].sort_values("as_of")["status"].tolist()


def test_a_good_genome_stays_active_and_a_bad_one_is_watched_then_eliminated() -> None:
    pool = [genome("GOOD"), genome("BAD"), genome("OK1"), genome("OK2")]
    data = outcomes(record("GOOD", 40, PASSING) + record("BAD", 40, FAILING)
                    + record("OK1", 40, PASSING) + record("OK2", 40, PASSING))
    out = evaluate_pool(pool, data, WEEKS[:3], {})
    assert statuses(out, "GOOD") == ["active", "active", "active"]
    assert statuses(out, "BAD") == ["watch", "eliminated", "eliminated"]
    bad = out[out["strategy_id"] == "BAD"].iloc[0]
    assert bad["n_trades"] == 40 and bad["win_rate"] == 0.0


def test_previous_status_carries_over_between_runs() -> None:
    pool = [genome("BAD"), genome("OK1"), genome("OK2"), genome("OK3")]
    data = outcomes(record("BAD", 40, FAILING) + record("OK1", 40, PASSING)
                    + record("OK2", 40, PASSING) + record("OK3", 40, PASSING))
    out = evaluate_pool(pool, data, WEEKS[:1], {"BAD": "watch"})
    assert statuses(out, "BAD") == ["eliminated"]


def test_an_eliminated_genome_does_not_come_back_by_passing() -> None:
    pool = [genome("BACK"), genome("OK1"), genome("OK2"), genome("OK3")]
    data = outcomes(record("BACK", 40, PASSING) + record("OK1", 40, PASSING)
                    + record("OK2", 40, PASSING) + record("OK3", 40, PASSING))
    out = evaluate_pool(pool, data, WEEKS[:2], {"BACK": "eliminated"})
    assert statuses(out, "BACK") == ["eliminated", "eliminated"]


def test_the_best_eliminated_genomes_are_reinstated_at_the_floor() -> None:
    # Four failing genomes; more evidence (more trades) scores higher.
    pool = [genome(f"F{n}") for n in (1, 2, 3, 4)]
    data = outcomes(record("F1", 4, FAILING) + record("F2", 8, FAILING)
                    + record("F3", 12, FAILING) + record("F4", 16, FAILING))
    out = evaluate_pool(pool, data, WEEKS[:3], {})
    first, second, third = (out[out["as_of"] == d].set_index("strategy_id") for d in WEEKS[:3])
    assert (first["status"] == "watch").all()  # four watched: still above the floor
    scores = second["score"].sort_values(ascending=False)
    assert scores.index.tolist() == ["F4", "F3", "F2", "F1"]
    assert set(second.index[second["status"] == "reinstated"]) == {"F4", "F3", "F2"}
    assert second.loc["F1", "status"] == "eliminated"
    assert (second["status"].isin(TRADEABLE)).sum() == POOL_FLOOR
    # reinstated genomes are on probation: the next miss eliminates them again, and the
    # floor reinstates the best again
    assert set(third.index[third["status"] == "reinstated"]) == {"F4", "F3", "F2"}


def test_reinstatement_ties_go_to_the_lower_id() -> None:
    pool = [genome(s) for s in ("D", "C", "B", "A")]
    data = outcomes([r for s in ("A", "B", "C", "D") for r in record(s, 10, FAILING)])
    out = evaluate_pool(pool, data, WEEKS[:2], {})
    second = out[out["as_of"] == WEEKS[1]].set_index("strategy_id")
    assert second["score"].nunique() == 1
    assert set(second.index[second["status"] == "reinstated"]) == {"A", "B", "C"}


def test_no_outcomes_means_watch() -> None:
    out = evaluate_pool([genome("X")], outcomes([]), WEEKS[:1], {})
    row = out.iloc[0]
    assert row["n_trades"] == 0 and row["score"] == 0.0 and row["status"] == "watch"
    assert list(out.columns) == ["as_of", "strategy_id", "n_trades", "win_rate", "sharpe",
                                 "max_drawdown", "total_return", "score", "status"]


def test_the_window_is_the_year_up_to_the_day() -> None:
    day = WEEKS[0]
    data = outcomes([("X", day - EVALUATION_WINDOW, 0.5),                      # too old
                     ("X", day - EVALUATION_WINDOW + timedelta(days=1), 0.01),
                     ("X", day, 0.02),
                     ("X", day + timedelta(days=1), 0.9)])                     # not known yet
    row = evaluate_pool([genome("X")], data, [day], {}).iloc[0]
    assert row["n_trades"] == 2
    assert row["total_return"] == pytest.approx((1 + 0.01 * 0.02) * (1 + 0.02 * 0.02) - 1)


def test_an_evaluation_ignores_outcomes_known_after_its_day() -> None:
    pool = [genome(s) for s in ("A", "B", "C")]
    rng = np.random.default_rng(3)
    rows = [(s, START - timedelta(days=300) + timedelta(days=int(d)), float(r))
            for s in ("A", "B", "C")
            for d, r in zip(rng.integers(0, 340, 60), rng.normal(0.01, 0.05, 60), strict=True)]
    data = outcomes(rows)
    base = evaluate_pool(pool, data, WEEKS, {})
    cut = WEEKS[2]
    later = data["known_as_of"] > cut
    assert later.any()
    perturbed = data.copy()
    perturbed.loc[later, "return"] = -0.5
    again = evaluate_pool(pool, perturbed, WEEKS, {})
    upto = base["as_of"] <= cut
    pd.testing.assert_frame_equal(base[upto], again[upto])
    assert not base[~upto].equals(again[~upto])


def reference(genomes: list[StrategyGenome], data: pd.DataFrame, days: list[date]) -> list:
    """The plain definition: filter all outcomes to the window, then each genome's."""
    out = []
    data = data.sort_values(["known_as_of", "symbol", "signal_as_of"], kind="mergesort")
    for day in days:
        window = data[(data["known_as_of"] <= day)
                      & (data["known_as_of"] > day - EVALUATION_WINDOW)]
        for g in genomes:
            returns = window.loc[window["strategy_id"] == g.strategy_id, "return"]
            stats = summarise_outcomes(returns.to_numpy(dtype=float))
            out.append((day, g.strategy_id, stats["n_trades"], stats["win_rate"],
                        stats["sharpe"], stats["max_drawdown"], stats["total_return"],
                        strategy_score(stats)))
    return out


@pytest.mark.parametrize("seed", [11, 12])
def test_figures_equal_the_plain_definition_exactly(seed: int) -> None:
    rng = np.random.default_rng(seed)
    pool = [genome(s) for s in ("A", "B", "C", "D")]
    rows = [(str(rng.choice(["A", "B", "C", "D", "OTHER"])),
             START - timedelta(days=500) + timedelta(days=int(rng.integers(0, 560))),
             float(rng.normal(0.005, 0.06))) for _ in range(800)]
    data = outcomes(rows)
    out = evaluate_pool(pool, data, WEEKS, {})
    got = list(out.drop(columns=["status"]).itertuples(index=False, name=None))
    want = reference(pool, data, WEEKS)
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert g[:3] == w[:3]
        np.testing.assert_array_equal(np.array(g[3:], dtype=float), np.array(w[3:], dtype=float))


def test_trades_are_taken_in_exit_order_across_symbols() -> None:
    # two losses on AAA, two gains on BBB, interleaved in time: listed by symbol the
    # losses would run back to back and double the drawdown
    day = START
    known = [day - timedelta(days=d) for d in (40, 30, 20, 10)]
    data = pd.DataFrame({
        "symbol": ["AAA", "AAA", "BBB", "BBB"], "strategy_id": "X",
        "known_as_of": [known[0], known[2], known[1], known[3]],
        "signal_as_of": [k - timedelta(days=5) for k in (known[0], known[2], known[1],
                                                           known[3])],
        "return": [-0.10, -0.10, 0.20, 0.20]})
    row = evaluate_pool([genome("X")], data, [day], {}).iloc[0]
    # 2% of capital a trade: 0.998, 1.001992, 0.99998796, ...: the worst fall is 0.2%
    assert row["max_drawdown"] == pytest.approx(-0.002)
    assert row["max_drawdown"] != pytest.approx(0.998 * 0.998 - 1)
    assert row["n_trades"] == 4


def test_sharpe_is_annualised_by_the_trades_made_in_the_year() -> None:
    returns = np.array([0.04, -0.02, 0.03, -0.01, 0.05, 0.00])
    stats = summarise_outcomes(returns)
    per_trade = returns.mean() / returns.std(ddof=1)
    assert stats["sharpe"] == pytest.approx(
        per_trade * np.sqrt(6 * 365.25 / EVALUATION_WINDOW.days))
    assert stats["n_trades"] == 6 and stats["win_rate"] == pytest.approx(0.5)


def test_week_ends_are_the_last_session_of_each_iso_week() -> None:
    sessions = [date(2024, 1, d) for d in (2, 3, 4, 5, 8, 9, 10, 11, 15, 29)]
    assert week_ends(sessions[::-1]) == [date(2024, 1, 5), date(2024, 1, 11),
                                         date(2024, 1, 15), date(2024, 1, 29)]
    # ISO weeks cross the year end: 2024-12-30 and 2025-01-02 share week 1 of 2025
    assert week_ends([date(2024, 12, 27), date(2024, 12, 30), date(2025, 1, 2)]) == [
        date(2024, 12, 27), date(2025, 1, 2)]



def test_a_stored_reinstated_status_continues_as_probation() -> None:
    """Evaluating week by week from stored statuses equals evaluating the weeks in one go,
    reinstatements included (a replay split anywhere equals one run)."""
    import numpy as np

    from trade_pipelines.agent.evolution.evaluation import POOL_FLOOR, evaluate_pool
    from trade_pipelines.agent.evolution.genomes import SEEDED_GENOMES

    genomes = list(SEEDED_GENOMES.values())
    rng = np.random.default_rng(3)
    days = [date(2024, 1, 5) + timedelta(days=7 * i) for i in range(8)]
    rows = [{"symbol": "AAA", "signal_as_of": d - timedelta(days=3), "known_as_of": d,
             "return": float(rng.normal(-0.01, 0.03)), "strategy_id": g.strategy_id}
            for d in days for g in genomes for _ in range(3)]
    outcomes = pd.DataFrame(rows)
    whole = evaluate_pool(genomes, outcomes, days, {})
    assert (whole["status"] == "reinstated").sum() >= POOL_FLOOR  # the case is exercised
    parts, previous = [], {}
    for day in days:
        part = evaluate_pool(genomes, outcomes, [day], previous)
        previous = dict(zip(part["strategy_id"], part["status"], strict=True))
        parts.append(part)
    pd.testing.assert_frame_equal(pd.concat(parts, ignore_index=True), whole)


def test_a_book_gives_the_sharpe_drawdown_and_return_of_its_year_only() -> None:
    days = np.arange(np.datetime64("2022-01-03"), np.datetime64("2023-03-01"),
                     dtype="datetime64[D]")
    rng = np.random.default_rng(3)
    returns = rng.normal(0.0005, 0.01, days.size)
    first, last = date(2022, 3, 1), date(2023, 1, 31)
    inside = (days > np.datetime64(first)) & (days <= np.datetime64(last))
    figures = book_figures((days, returns), first, last)
    expected = daily_stats(returns[inside])
    assert figures == {"sharpe": expected.sharpe, "max_drawdown": expected.max_drawdown,
                       "total_return": expected.total_return}
    # the trades give the count and win rate; the book overrides what the trades flatter
    day = date(2023, 1, 6)
    data = outcomes(record("X", 40, PASSING))
    from_trades = evaluate_pool([genome("X")], data, [day], {}).iloc[0]
    books = {"X": (days, returns)}
    row = score_day(day, [genome("X")], genome_records(data), {}, books)[0]
    assert row["n_trades"] == from_trades["n_trades"]
    assert row["win_rate"] == from_trades["win_rate"]
    assert row["sharpe"] == book_figures(books["X"], day - EVALUATION_WINDOW, day)["sharpe"]
    assert row["sharpe"] != pytest.approx(from_trades["sharpe"])


def test_the_floor_counts_only_established_genomes_and_reinstates_only_them() -> None:
    rows = [{"strategy_id": f"G{i}", "status": "probation", "score": 90.0} for i in range(5)]
    rows += [{"strategy_id": "GX", "status": "eliminated", "score": 99.0}]
    rows += [{"strategy_id": f"S0{i}", "status": "eliminated", "score": 50.0 + i}
             for i in range(1, 5)]
    unchanged = [dict(r) for r in rows]
    apply_floor(unchanged)                     # five tradeable: nothing to do
    assert [r["status"] for r in unchanged] == [r["status"] for r in rows]
    apply_floor(rows, lambda sid: sid.startswith("S"))
    reinstated = {r["strategy_id"] for r in rows if r["status"] == "reinstated"}
    assert reinstated == {"S04", "S03", "S02"}  # the best established, never the newborn
