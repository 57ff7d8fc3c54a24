"""The baseline rules: hand-checked targets, no look-ahead, random entries at the asked
turnover and exposure, and the whole scoreboard run through the broker."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date

import numpy as np
import pandas as pd
import pytest

from trade_pipelines.agent.execution.rebalancing import simulate_target_weights
from trade_pipelines.agent.perception.features import compute_features
from trade_pipelines.agent.reflection.baselines import (
    BASELINES,
    buy_and_hold_targets,
    momentum_12_1_targets,
    random_entry_probabilities,
    random_entry_targets,
    run_baselines,
    sma_crossover_targets,
)

NAN = float("nan")


def random_walk(n_days: int, n_symbols: int, seed: int = 0, drift: float = 0.0,
                start: str = "2020-01-01") -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    steps = rng.normal(drift, 0.015, (n_days, n_symbols))
    index = [d.date() for d in pd.bdate_range(start, periods=n_days)]
    return pd.DataFrame(100 * np.exp(np.cumsum(steps, axis=0)), index=index,
                        columns=[f"S{j:02d}" for j in range(n_symbols)])


def long_bars(closes: pd.DataFrame, vol_20: float | None = 0.2) -> pd.DataFrame:
    bars = closes.rename_axis("as_of").rename_axis("symbol", axis=1).stack() \
        .rename("close").reset_index()
    bars["open"] = NAN
    bars["volume"] = NAN
    if vol_20 is not None:
        bars["vol_20"] = vol_20
    return bars


def assert_same_targets(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(a, b, check_exact=True)


def test_buy_and_hold_weighs_the_priced_symbols_equally_then_holds() -> None:
    closes = pd.DataFrame({"A": [10.0, 11.0, 12.0], "B": [NAN, 5.0, 6.0],
                           "C": [3.0, 3.0, 3.0]}, index=pd.bdate_range("2024-01-01", periods=3))
    targets = buy_and_hold_targets(closes)
    assert targets.iloc[0].tolist() == [0.5, 0.0, 0.5]
    assert targets.iloc[1:].isna().all().all()


def test_sma_crossover_by_hand() -> None:
    closes = pd.DataFrame({"A": [1, 2, 3, 2, 1, 1, 1], "B": [5, 5, 5, 5, 6, 7, 8],
                           "C": [1, 1, 2, 3, 4, 5, 6]}, dtype=float,
                          index=pd.bdate_range("2024-01-01", periods=7))
    # SMA2 > SMA3: A on days 2-3 (2.5 > 2, 2.5 > 2.33), B from day 4 (5.5 > 5.33),
    # C from day 2 (1.5 > 1.33); day 6's A (1 > 1) is not above
    targets = sma_crossover_targets(closes, fast=2, slow=3)
    expected = pd.DataFrame([[0, 0, 0], [NAN] * 3, [0.5, 0, 0.5], [NAN] * 3, [0, 0.5, 0.5],
                             [NAN] * 3, [NAN] * 3], index=closes.index,
                            columns=closes.columns, dtype=float)
    assert_same_targets(targets, expected)


def test_sma_crossover_refuses_a_fast_window_not_shorter_than_the_slow() -> None:
    with pytest.raises(ValueError):
        sma_crossover_targets(random_walk(10, 2), fast=5, slow=5)


def test_momentum_by_hand() -> None:
    index = pd.bdate_range("2024-01-24", "2024-03-05")
    growth = {"A": 0.01, "B": 0.02, "C": -0.01, "D": 0.005}
    paths = {}
    for symbol, rate in growth.items():
        path = [100.0]
        for day in index[1:]:
            # C turns into the best performer from mid-February
            step = 0.05 if symbol == "C" and day >= pd.Timestamp("2024-02-15") else rate
            path.append(path[-1] * (1 + step))
        paths[symbol] = path
    closes = pd.DataFrame(paths, index=index)
    targets = momentum_12_1_targets(closes, top=0.5, lookback=4, skip=1)
    decided = targets.dropna(how="all")
    # day 0 is a first session but has no score yet; Feb 1 ranks B, A; Mar 1 ranks C, B
    assert list(decided.index) == [pd.Timestamp("2024-02-01"), pd.Timestamp("2024-03-01")]
    assert decided.iloc[0].tolist() == [0.5, 0.5, 0.0, 0.0]
    assert decided.iloc[1].tolist() == [0.0, 0.5, 0.5, 0.0]
    # top 0.3 of 4 symbols rounds to one
    single = momentum_12_1_targets(closes, top=0.3, lookback=4, skip=1).dropna(how="all")
    assert single.iloc[1].tolist() == [0.0, 0.0, 1.0, 0.0]


RULES: dict[str, Callable[[pd.DataFrame], pd.DataFrame]] = {
    "buy_and_hold": buy_and_hold_targets,
    "sma_crossover": sma_crossover_targets,
    "momentum_12_1": momentum_12_1_targets,
    "random_entries": lambda c: random_entry_targets(c, turnover=0.05, exposure=0.4, seed=3),
}


@pytest.mark.parametrize("rule", list(RULES))
def test_no_target_uses_a_future_close(rule: str) -> None:
    closes = random_walk(330, 8, seed=1, drift=0.0005)
    make = RULES[rule]
    full = make(closes)
    decided = np.flatnonzero(full.notna().any(axis=1).to_numpy())
    # every day a target is set (a leak shows where a rule speaks), at most eight of them
    # spread over the path, and days it is silent
    spoken = decided[np.linspace(0, len(decided) - 1, min(8, len(decided))).astype(int)]
    if rule != "buy_and_hold":  # something to check after day 0
        assert (spoken > 0).sum() >= 4
    for k in sorted({*spoken.tolist(), 150, 263}):
        perturbed = closes.copy()
        rng = np.random.default_rng(k)
        perturbed.iloc[k + 1:] *= rng.uniform(0.5, 1.5, perturbed.iloc[k + 1:].shape)
        assert_same_targets(make(perturbed).iloc[:k + 1], full.iloc[:k + 1])
        # nor the calendar after k: the data cut at k gives the same targets
        assert_same_targets(make(closes.iloc[:k + 1]), full.iloc[:k + 1])


def test_random_entries_are_the_same_for_a_seed_and_differ_between_seeds() -> None:
    closes = random_walk(200, 10)
    a = random_entry_targets(closes, 0.05, 0.4, seed=7)
    assert_same_targets(a, random_entry_targets(closes, 0.05, 0.4, seed=7))
    assert not a.equals(random_entry_targets(closes, 0.05, 0.4, seed=8))


def test_random_entry_chances_by_hand() -> None:
    # exposure 0.4, turnover 0.05: enter 0.05 / 1.2, leave 0.05 / 0.8
    assert random_entry_probabilities(0.05, 0.4) == pytest.approx((0.05 / 1.2, 0.0625))
    assert random_entry_probabilities(0.05, 0.0) == (0.0, 1.0)
    assert random_entry_probabilities(0.05, 1.0) == (1.0, 0.0)
    assert random_entry_probabilities(3.0, 0.5) == (1.0, 1.0)


@pytest.mark.parametrize(("turnover", "exposure"), [(0.04, 0.35), (0.10, 0.7)])
def test_random_entries_trade_at_the_asked_turnover_and_exposure(turnover: float,
                                                                 exposure: float) -> None:
    closes = random_walk(1500, 20, seed=2)
    targets = random_entry_targets(closes, turnover, exposure, seed=11)
    result = simulate_target_weights(targets, long_bars(closes))
    assert result.turnover == pytest.approx(turnover, rel=0.15)
    assert result.exposure == pytest.approx(exposure, abs=0.03)
    # a symbol without a close keeps its state: no target on a day it has no price
    gappy = closes.copy()
    gappy.iloc[100:110, 0] = NAN
    assert random_entry_targets(gappy, turnover, exposure, 11).iloc[100:110, 0].isna().all()


def scoreboard_bars(vol_20: float | None = None) -> tuple[pd.DataFrame, date, date]:
    """Five symbols trending up: every SMA set and momentum ranking is formed before the
    window, and the window starts mid-month."""
    closes = random_walk(420, 5, seed=4, drift=0.002, start="2022-01-03")
    start, end = closes.index[330], closes.index[-1]
    assert start.day > 1
    return long_bars(closes, vol_20=vol_20), start, end


def test_run_baselines_trades_only_inside_the_window_from_the_agents_capital() -> None:
    bars, start, end = scoreboard_bars()
    results = run_baselines(bars, start, end, turnover=0.05, exposure=0.5, seeds=3,
                            capital=100_000.0)
    assert tuple(results) == BASELINES
    window = sorted(d for d in bars["as_of"].unique() if start <= d <= end)
    for name, result in results.items():
        assert list(result.equity.index) == window, name
        assert result.equity.iloc[0] == 100_000.0, name  # decided at the close, no fill yet
        assert (result.weights.iloc[0] == 0).all(), name
        assert result.fees > 0, name
        if not result.trades.empty:
            assert result.trades["as_of"].min() > start
    # the rules formed before the window start invested, not at their next signal
    for name in ("sma_crossover", "momentum_12_1", "buy_and_hold"):
        assert results[name].weights.iloc[1].sum() > 0.95, name


def test_hong_kong_baselines_refuse_a_stock_without_a_known_board_lot_and_go_on() -> None:
    from trade_pipelines.agent.markets import HK

    # an evaluation of a Hong Kong universe with 9988.HK (no lot on record) raised
    # UnknownBoardLot here
    bars, start, end = scoreboard_bars()
    names = dict(zip(sorted(bars["symbol"].unique()),
                     ["0700.HK", "2318.HK", "3333.HK", "3888.HK", "9988.HK"], strict=True))
    bars = bars.assign(symbol=bars["symbol"].map(names))
    results = run_baselines_under(bars, start, end, HK)
    for name, result in results.items():
        assert (result.weights["9988.HK"] == 0).all(), name
        assert result.weights.drop(columns="9988.HK").to_numpy().sum() > 0, name
    buy_and_hold = results["buy_and_hold"].refused
    assert buy_and_hold[["as_of", "symbol", "side"]].values.tolist() == [
        [start, "9988.HK", "buy"]]
    assert buy_and_hold["reason"].iloc[0].startswith("no board lot is known for 9988.HK")
    assert set(results["random_entries"].refused["symbol"]) <= {"9988.HK"}


def run_baselines_under(bars: pd.DataFrame, start: date, end: date, rules) -> dict:
    from trade_pipelines.agent.reflection.baselines import average_results, baseline_runs

    runs = baseline_runs(bars, start, end, 0.05, 0.5, seeds=2, rules=rules)
    return {**{k: v for k, v in runs.items() if k != "random_entries"},
            "random_entries": average_results(runs["random_entries"])}


def test_random_entries_average_the_seeds_daily_returns() -> None:
    bars, start, end = scoreboard_bars(vol_20=0.3)
    result = run_baselines(bars, start, end, 0.05, 0.5, seeds=3)["random_entries"]
    trading = bars[(bars["as_of"] >= start) & (bars["as_of"] <= end)]
    closes = trading.pivot(index="as_of", columns="symbol", values="close")
    runs = [simulate_target_weights(random_entry_targets(closes, 0.05, 0.5, seed), trading)
            for seed in range(3)]
    mean = np.mean([r.daily_returns.to_numpy() for r in runs], axis=0)
    assert result.daily_returns.to_numpy() == pytest.approx(mean, abs=1e-12)
    assert result.equity.iloc[-1] == pytest.approx(1_000_000.0 * np.prod(1 + mean))
    assert len(result.trades) == sum(len(r.trades) for r in runs)
    assert result.turnover == pytest.approx(np.mean([r.turnover for r in runs]))
    assert result.weights.iloc[-1].tolist() == pytest.approx(
        np.mean([r.weights.iloc[-1].to_numpy() for r in runs], axis=0))


def test_run_baselines_slips_with_the_agents_own_vol_20_known_before_the_open() -> None:
    bars, start, end = scoreboard_bars()
    features = compute_features(bars.assign(high=NAN, low=NAN)).sort_values(
        ["symbol", "as_of"])
    # the trading loop's bars carry the volatility of the previous close
    known = features.assign(vol_20=features.groupby("symbol")["vol_20"].shift(1))
    with_features = bars.merge(known[["symbol", "as_of", "vol_20"]], on=["symbol", "as_of"])
    assert with_features["vol_20"].notna().sum() > 0
    computed = run_baselines(bars, start, end, 0.05, 0.5, seeds=1)
    given = run_baselines(with_features, start, end, 0.05, 0.5, seeds=1)
    for name in BASELINES:
        pd.testing.assert_series_equal(computed[name].equity, given[name].equity)
    # a different volatility would cost a different amount
    flat = run_baselines(bars.assign(vol_20=0.9), start, end, 0.05, 0.5, seeds=1)
    assert flat["buy_and_hold"].fees != computed["buy_and_hold"].fees
    assert not math.isclose(flat["buy_and_hold"].equity.iloc[-1],
                            computed["buy_and_hold"].equity.iloc[-1])
