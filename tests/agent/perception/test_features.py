"""Market features: backward-looking windows only, on small synthetic series."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from trade_pipelines.agent.perception.features import FEATURE_COLUMNS, compute_features


def trading_days(n: int, start: date = date(2023, 1, 2)) -> list[date]:
    return [start + timedelta(days=i) for i in range(n)]


def bars_from_closes(closes: np.ndarray, symbol: str = "AAA", with_ohlv: bool = True,
                     seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = len(closes)
    frame = pd.DataFrame({"symbol": symbol, "as_of": trading_days(n), "close": closes})
    if with_ohlv:
        frame["open"] = closes * (1 + rng.normal(0, 0.002, n))
        frame["high"] = closes * (1 + rng.uniform(0.0, 0.02, n))
        frame["low"] = closes * (1 - rng.uniform(0.0, 0.02, n))
        frame["volume"] = rng.uniform(1e5, 2e5, n)
    return frame


def random_walk(n: int, seed: int = 1, vol: float = 0.02) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 100 * np.exp(np.cumsum(rng.normal(0.0, vol, n)))


def test_features_up_to_t_do_not_change_when_later_bars_change() -> None:
    n, t = 300, 240
    bars = bars_from_closes(random_walk(n))
    other = bars_from_closes(random_walk(n, seed=7), symbol="BBB", seed=3)
    base = compute_features(pd.concat([bars, other], ignore_index=True))

    perturbed = bars.copy()
    later = perturbed.index > t
    rng = np.random.default_rng(42)
    for column in ("open", "high", "low", "close"):
        perturbed.loc[later, column] *= rng.uniform(0.5, 1.5, later.sum())
    perturbed.loc[later, "volume"] *= 10
    changed = compute_features(pd.concat([perturbed, other], ignore_index=True))

    cutoff = trading_days(n)[t]
    before = base[base["as_of"] <= cutoff].reset_index(drop=True)
    after = changed[changed["as_of"] <= cutoff].reset_index(drop=True)
    assert len(before) == 2 * (t + 1)
    pd.testing.assert_frame_equal(before, after)
    # the perturbation is real: the next day's features do differ
    nxt = trading_days(n)[t + 1]
    a = base[(base["as_of"] == nxt) & (base["symbol"] == "AAA")]["close"].iloc[0]
    b = changed[(changed["as_of"] == nxt) & (changed["symbol"] == "AAA")]["close"].iloc[0]
    assert a != b


def test_output_has_one_row_per_bar_with_all_feature_columns() -> None:
    bars = bars_from_closes(random_walk(80))
    features = compute_features(bars.sample(frac=1.0, random_state=0))
    assert list(features.columns) == ["symbol", "as_of", *FEATURE_COLUMNS]
    assert features["as_of"].tolist() == trading_days(80)


def test_empty_bars_give_the_same_columns_as_non_empty_bars() -> None:
    empty = compute_features(pd.DataFrame(columns=["symbol", "as_of", "close"]))
    full = compute_features(bars_from_closes(random_walk(30)))
    assert empty.empty
    assert list(empty.columns) == list(full.columns)


def test_rsi_stays_within_0_and_100() -> None:
    walks = [random_walk(400, seed=s, vol=v) for s, v in [(1, 0.01), (2, 0.05), (3, 0.1)]]
    for i, closes in enumerate(walks):
        rsi = compute_features(bars_from_closes(closes, with_ohlv=False))["rsi_14"]
        valid = rsi.dropna()
        assert len(valid) > 300, i
        assert valid.between(0.0, 100.0).all(), i
        assert valid.min() < 50 < valid.max(), i


def test_rsi_is_100_on_a_rising_series_and_0_on_a_falling_one() -> None:
    up = compute_features(bars_from_closes(np.linspace(100, 150, 40), with_ohlv=False))
    down = compute_features(bars_from_closes(np.linspace(150, 100, 40), with_ohlv=False))
    assert up["rsi_14"].iloc[:14].isna().all()
    assert up["rsi_14"].iloc[14:].eq(100.0).all()
    assert down["rsi_14"].iloc[14:].eq(0.0).all()


def test_sma_matches_a_hand_computed_mean() -> None:
    closes = np.arange(1.0, 61.0)  # 1, 2, ..., 60
    features = compute_features(bars_from_closes(closes, with_ohlv=False))
    sma_20 = features["sma_20"]
    assert sma_20.iloc[:19].isna().all()
    # the mean of i-18 .. i+1 is i + 1 - 9.5
    for i in range(19, 60):
        assert sma_20.iloc[i] == pytest.approx(i + 1 - 9.5)
    assert features["sma_50"].iloc[48] != features["sma_50"].iloc[48]  # NaN
    assert features["sma_50"].iloc[49] == pytest.approx(25.5)
    assert features["sma_200"].isna().all()
    assert features["ret_1d"].iloc[1] == pytest.approx(1.0)
    assert features["ret_20d"].iloc[20] == pytest.approx(21 / 1 - 1)


def test_high_55_is_the_highest_high_of_the_55_bars_before_today() -> None:
    n = 70
    closes = np.full(n, 100.0)
    bars = bars_from_closes(closes, with_ohlv=False)
    bars["high"] = 101.0
    bars["low"] = 99.0
    bars.loc[60, ["close", "high"]] = [150.0, 160.0]
    features = compute_features(bars)
    high_55 = features["high_55"]
    assert high_55.iloc[:55].isna().all()
    assert high_55.iloc[55] == 101.0
    # today's own high never counts: a breakout compares today's close with the past
    assert high_55.iloc[60] == 101.0
    assert features["close"].iloc[60] > high_55.iloc[60]
    assert high_55.iloc[61] == 160.0
    assert high_55.iloc[69] == 160.0


def test_high_55_falls_back_to_closes_without_highs() -> None:
    closes = np.full(60, 100.0)
    closes[10] = 130.0
    closes[59] = 200.0
    features = compute_features(bars_from_closes(closes, with_ohlv=False))
    assert features["high_55"].iloc[59] == 130.0
    assert features["low_20"].iloc[59] == 100.0


def test_symbols_are_computed_independently() -> None:
    a = bars_from_closes(random_walk(60, seed=1), symbol="AAA")
    b = bars_from_closes(random_walk(60, seed=2), symbol="BBB", seed=5)
    together = compute_features(pd.concat([b, a], ignore_index=True))
    alone = compute_features(a)
    pd.testing.assert_frame_equal(
        together[together["symbol"] == "AAA"].reset_index(drop=True), alone)
    # the first BBB row does not continue from AAA's last bar
    first_b = together[together["symbol"] == "BBB"].iloc[0]
    assert np.isnan(first_b["ret_1d"])


def test_volume_ratio_compares_today_with_the_previous_20_days() -> None:
    bars = bars_from_closes(np.full(30, 10.0))
    bars["volume"] = 100.0
    bars.loc[25, "volume"] = 300.0
    features = compute_features(bars)
    assert features["volume_ratio"].iloc[:20].isna().all()
    assert features["volume_ratio"].iloc[24] == pytest.approx(1.0)
    assert features["volume_ratio"].iloc[25] == pytest.approx(3.0)
