"""Market sentiment on hand-made series, a turning point with its evidence, and rows that
depend on nothing after their day."""

from __future__ import annotations

import json
import math
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from trade_pipelines.agent.perception.features import compute_features
from trade_pipelines.agent.perception.sentiment import (
    US_SECTORS,
    fear_greed,
    market_sentiment,
    volatility_series,
)
from trade_pipelines.market_data.builtin import BUILTIN_UNIVERSE, load_builtin_bars

DAYS = [date(2021, 1, 1) + timedelta(days=i) for i in range(80)]


def _frame(symbol: str, closes: list[float]) -> pd.DataFrame:
    return pd.DataFrame({"symbol": symbol, "as_of": DAYS[:len(closes)], "close": closes})


def test_every_builtin_symbol_has_a_gics_sector() -> None:
    assert set(US_SECTORS) == set(BUILTIN_UNIVERSE)


def test_fear_greed_components_on_known_values() -> None:
    score = fear_greed(pd.Series([0.5, 1.0, 0.0]), pd.Series([0.0, 1.0, -1.0]),
                       pd.Series([26.0, 12.0, 40.0]), pd.Series([0.0, 0.10, -0.10]))
    # Middle of every scale: 50; every component at its greedy end: 100; at fear: 0.
    assert score.tolist() == [50.0, 100.0, 0.0]
    # An unknown component is left out of the mean, not counted as zero.
    partial = fear_greed(pd.Series([1.0]), pd.Series([np.nan]), pd.Series([np.nan]),
                         pd.Series([np.nan]))
    assert partial.iloc[0] == 100.0


def test_the_volatility_index_wins_where_it_has_a_close_and_realised_stands_in() -> None:
    closes = list(100 * np.exp(np.cumsum([0.01 if i % 2 else -0.01 for i in range(40)])))
    bench = _frame("^GSPC", closes)
    index = pd.DataFrame({"as_of": DAYS[30:40], "close": [20.0 + i for i in range(10)]})
    vol = volatility_series(bench, index, "^GSPC", "^VIX")
    assert vol["volatility_source"].iloc[29] == "realised_vol_20d:^GSPC"
    # 20 alternating +/-1% log returns: sample sd 0.01 * sqrt(20/19), annualised, in %.
    assert vol["volatility_level"].iloc[29] == pytest.approx(
        0.01 * math.sqrt(20 / 19) * math.sqrt(252) * 100)
    assert vol["volatility_source"].iloc[35] == "^VIX"
    assert vol["volatility_level"].iloc[35] == 25.0
    # The 5-day change never spans a change of source: the index's own history only.
    assert math.isnan(vol["volatility_change_5d"].iloc[34])
    assert vol["volatility_change_5d"].iloc[35] == 5.0


def _features(rows: dict[str, list[float]]) -> pd.DataFrame:
    bars = pd.concat([_frame(s, c) for s, c in rows.items()], ignore_index=True)
    for column in ("open", "high", "low", "volume"):
        bars[column] = np.nan
    return compute_features(bars)


def test_breadth_advance_decline_and_sectors_on_hand_made_stocks() -> None:
    up = [100 + i for i in range(60)]
    down = [200 - i for i in range(60)]
    features = _features({"AAPL": up, "MSFT": up, "XOM": down, "KO": up})
    bench = _frame("^GSPC", [1000 + i for i in range(60)])
    rows = market_sentiment("us", bench, features, "^GSPC", sectors=US_SECTORS)
    last = rows.iloc[-1]
    assert last["breadth"] == 0.75           # three of four above their 50-day average
    assert (last["advancers"], last["decliners"]) == (3, 1)
    assert last["advance_decline"] == 0.5
    momentum = json.loads(last["sector_momentum"])
    assert momentum["Information Technology"] == pytest.approx(round(159 / 139 - 1, 4))
    assert last["leading_sector"] == "Consumer Staples"  # KO: 159/139, the same as IT
    assert last["lagging_sector"] == "Energy"
    assert "3 up / 1 down" in last["reason"] and "breadth 75%" in last["reason"]


def test_turns_toward_fear_and_back_are_recorded_with_their_evidence() -> None:
    # Calm, then a volatility spike while breadth falls, then calm with breadth back up.
    bench = _frame("^GSPC", [1000.0] * 80)
    index = pd.DataFrame({"as_of": DAYS, "close": [15.0] * 62 + [30.0] * 5 + [20.0] * 13})
    features = pd.DataFrame({"symbol": "A", "as_of": DAYS, "close": 1.0, "sma_50": 1.0,
                             "ret_1d": 0.0, "ret_20d": 0.0})
    breadth_by_day = [0.6] * 62 + [0.2] * 6 + [0.6] * 12
    features = pd.concat([features.assign(symbol=s, close=[
        1.1 if b > k / 10 else 0.9 for b in breadth_by_day]) for k, s in
        enumerate("ABCDEFGHIJ")], ignore_index=True)
    rows = market_sentiment("us", bench, features, "^GSPC", index, "^VIX")
    turns = rows[rows["turning_point"].notna()]
    assert turns["as_of"].tolist() == [DAYS[62], DAYS[68]]
    fear, turn = turns.iloc[0], turns.iloc[1]
    assert fear["turning_point"] == "toward_fear"
    assert "breadth crossed below 50% (60% -> 20%)" in fear["reason"]
    assert "volatility rose +15.0 to 30.0 in 5 days" in fear["reason"]
    assert turn["turning_point"] == "toward_greed"
    assert "breadth crossed above 50% (20% -> 60%)" in turn["reason"]
    assert "volatility fell to 20.0 from a spike of 30.0" in turn["reason"]


def test_no_row_depends_on_a_later_bar() -> None:
    bars = load_builtin_bars()
    bars = bars[(bars["as_of"] >= date(2017, 1, 1)) & (bars["as_of"] <= date(2018, 6, 30))]
    cut = date(2018, 2, 1)

    def rows(frame: pd.DataFrame) -> pd.DataFrame:
        stocks = frame[frame["symbol"].isin(BUILTIN_UNIVERSE)]
        return market_sentiment("us", frame[frame["symbol"] == "^GSPC"],
                                compute_features(stocks), "^GSPC",
                                frame[frame["symbol"] == "^VIX"], "^VIX", US_SECTORS)

    base = rows(bars)
    later = bars["as_of"] > cut
    perturbed = bars.copy()
    perturbed.loc[later, "close"] = perturbed.loc[later, "close"] * 0.5
    changed = rows(perturbed)
    before = base["as_of"] <= cut
    pd.testing.assert_frame_equal(base[before], changed[before])
    assert not base[~before].equals(changed[~before])


def test_a_market_without_a_volatility_index_uses_realised_volatility_and_real_volume() -> None:
    from trade_pipelines.agent.perception.anomalies import anomaly_scores
    from trade_pipelines.market_data.builtin_markets import builtin_universe, raw_market_bars

    bars = raw_market_bars("cn")
    bars = bars.assign(as_of=bars["as_of"].dt.date)
    bars = bars[(bars["as_of"] >= date(2015, 1, 1)) & (bars["as_of"] <= date(2015, 12, 31))]
    stocks = bars[bars["symbol"].isin(builtin_universe("cn"))]
    csi300 = bars[bars["symbol"] == "000300.SH"]
    rows = market_sentiment("cn", csi300, compute_features(stocks), "000300.SH")
    assert (rows["volatility_source"] == "realised_vol_20d:000300.SH").all()
    assert (rows["sector_momentum"] == "{}").all()  # no sector map for A-shares
    # The summer 2015 crash: fear at its worst, well below the spring's greed.
    by_day = rows.set_index("as_of")["fear_greed"]
    assert by_day[date(2015, 7, 8)] < 25 < 60 < by_day[date(2015, 4, 20)]
    # A-share bars carry opens and volumes: gaps and volume bursts are scored there.
    scores = anomaly_scores(stocks)
    assert scores["volume_burst"].notna().mean() > 0.9
    assert scores["gap"].notna().mean() > 0.9
