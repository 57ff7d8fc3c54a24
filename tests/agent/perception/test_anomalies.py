"""Anomaly scores on hand-made series, their trailing-only windows, and the black swan."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from trade_pipelines.agent.perception.anomalies import (
    anomaly_scores,
    benchmark_black_swans,
    component_scores,
    score_new_bar,
)


def _bars(closes: list[float], symbol: str = "X", opens: list[float] | None = None,
          volumes: list[float] | None = None) -> pd.DataFrame:
    days = [date(2020, 1, 1) + timedelta(days=i) for i in range(len(closes))]
    return pd.DataFrame({"symbol": symbol, "as_of": days, "close": closes,
                         "open": opens if opens is not None else np.nan,
                         "volume": volumes if volumes is not None else np.nan})


def _alternating(n: int, step: float = 0.01, start: float = 100.0) -> list[float]:
    """Closes whose log return alternates +step/-step: a known trailing volatility."""
    closes = [start]
    for i in range(n - 1):
        closes.append(closes[-1] * np.exp(step if i % 2 == 0 else -step))
    return closes


def test_a_jump_is_measured_in_trailing_deviations() -> None:
    closes = _alternating(61)
    closes.append(closes[-1] * np.exp(-0.06))  # a -6% log move after +/-1% days
    scores = anomaly_scores(_bars(closes))
    last = scores.iloc[-1]
    # The trailing 60 returns alternate +/-0.01: their sample deviation is 0.01 * sqrt(60/59).
    expected_z = -0.06 / (0.01 * np.sqrt(60 / 59))
    assert last["return_z"] == pytest.approx(expected_z, rel=1e-9)
    # |z| of 5.95 on the 2..6 scale scores 9.87; the five-bar volatility (the jump after
    # four 1% days) is 2.84x the trailing level: 5.4 on the 1.5..4 scale, a second
    # component past 5, so one more point: capped at 10. Volume and gap are unknown.
    price, volume, spike, gap = component_scores(scores.tail(1))[0]
    assert price == pytest.approx(9.87, abs=0.01)
    assert last["volatility_spike"] == pytest.approx(
        np.std([0.01, -0.01, 0.01, -0.01, -0.06], ddof=1) / (0.01 * np.sqrt(60 / 59)))
    assert spike == pytest.approx(5.36, abs=0.01)
    assert volume == gap == 0.0
    assert last["score"] == 10.0
    assert np.isnan(last["volume_burst"]) and np.isnan(last["gap"])
    assert scores.iloc[-2]["score"] == 0.0  # an ordinary 1-deviation day


def test_volume_burst_and_gap_against_trailing_history() -> None:
    closes = _alternating(40)
    volumes = [1000.0] * 39 + [5000.0]
    opens = list(closes)
    opens[-1] = closes[-2] * np.exp(0.05)  # opens 5% above the previous close
    scores = anomaly_scores(_bars(closes, opens=opens, volumes=volumes))
    last = scores.iloc[-1]
    assert last["volume_burst"] == pytest.approx(5.0)
    trailing = pd.Series(np.log(closes)).diff().iloc[1:-1].tail(60).std()
    assert last["gap"] == pytest.approx(0.05 / trailing)
    # volume 5x scores (5 - 1.5) / 4.5 * 10 = 7.8; the gap of ~5 sd scores 10; the
    # combined score is the strongest plus one for the other component past 5: capped 10.
    assert last["score"] == 10.0


def test_scores_never_read_a_later_bar() -> None:
    closes = _alternating(120)
    base = anomaly_scores(_bars(closes))
    changed = list(closes)
    changed[80:] = [c * 3 for c in changed[80:]]  # a wild future from bar 80 on
    perturbed = anomaly_scores(_bars(changed))
    pd.testing.assert_frame_equal(base.iloc[:80], perturbed.iloc[:80])
    assert perturbed.iloc[80]["score"] == 10.0


def test_a_new_bar_scores_as_in_the_whole_series() -> None:
    closes = _alternating(100)
    closes[-1] *= 1.04
    bars = _bars(closes)
    whole = anomaly_scores(bars).iloc[-1]
    arrived = score_new_bar(bars.iloc[:-1], bars.iloc[-1].to_dict())
    assert arrived["score"] == whole["score"] > 0
    assert arrived["return_z"] == pytest.approx(whole["return_z"])


def test_black_swan_on_a_crash_and_on_a_breadth_collapse() -> None:
    closes = _alternating(70)
    closes.append(closes[-1] * 0.92)  # -8% in a day
    flags = benchmark_black_swans(_bars(closes, "^GSPC"))
    assert flags["black_swan"].tolist() == [False] * 70 + [True]
    assert "-8.0% in a day" in flags["why"].iloc[-1]
    # A 4-sigma fall of 2% in a calm market is no black swan (it must also be 3% or more).
    calm = _alternating(70, step=0.004)
    calm.append(calm[-1] * 0.98)
    assert not benchmark_black_swans(_bars(calm, "^GSPC"))["black_swan"].any()
    # Breadth from 60% to 10% in five sessions while five-day volatility triples.
    wild = _alternating(66)
    for i in range(5):
        wild.append(wild[-1] * np.exp(0.04 if i % 2 else -0.04))
    bars = _bars(wild, "^GSPC")
    breadth = pd.Series(0.6, index=bars["as_of"])
    breadth.iloc[-1] = 0.10
    flags = benchmark_black_swans(bars, breadth)
    assert flags["black_swan"].iloc[-1]
    assert "breadth collapsed to 10%" in flags["why"].iloc[-1]
    assert not flags["black_swan"].iloc[:-1].any()


def test_a_market_with_no_closing_bell_needs_four_deviations_not_a_fixed_drop() -> None:
    # Bitcoin-like: +/-3% days; a -8% day is 2.8 deviations, a -15% day 5.4.
    closes = _alternating(70, step=0.03)
    closes.append(closes[-1] * 0.92)
    assert benchmark_black_swans(_bars(closes, "^GSPC"))["black_swan"].iloc[-1]
    assert not benchmark_black_swans(_bars(closes, "BTC-USD"), always_open=True)[
        "black_swan"].any()
    closes[-1] = closes[-2] * 0.85
    flags = benchmark_black_swans(_bars(closes, "BTC-USD"), always_open=True)
    assert flags["black_swan"].tolist() == [False] * 70 + [True]
    assert anomaly_scores(_bars(closes, "BTC-USD"), "BTC-USD", always_open=True)[
        "black_swan"].iloc[-1]
