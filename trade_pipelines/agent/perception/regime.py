"""Market regime per day: bull, bear or range, and a defensive flag for black-swan days."""

from __future__ import annotations

import numpy as np
import pandas as pd

from trade_pipelines.agent.perception.anomalies import benchmark_black_swans
from trade_pipelines.agent.perception.features import rolling_mean, rolling_std

DEFENSIVE_VIX = 40.0
DEFENSIVE_VOLATILITY = 0.40
CRASH_DROP = -0.07


def market_breadth(features: pd.DataFrame) -> pd.Series:
    """Per day, the share of stocks closing above their 50-day average."""
    above = (features["close"] > features["sma_50"]).astype(float).where(
        features["sma_50"].notna())
    return above.groupby(features["as_of"]).mean().rename("breadth")


def detect_regimes(
    benchmark: pd.DataFrame, features: pd.DataFrame, vix: pd.DataFrame | None = None
) -> pd.DataFrame:
    """One row per benchmark day, from data up to that day.

    ``benchmark``: as_of, close of the benchmark index. ``features``: the stock features
    (for breadth: the share of stocks above their 50-day average). ``vix``: as_of, close.
    """
    columns = ["as_of", "regime", "benchmark_close", "trend", "volatility", "breadth", "vix",
               "defensive"]
    if benchmark.empty:
        return pd.DataFrame(columns=columns)
    bench = benchmark.sort_values("as_of").reset_index(drop=True)
    close = bench["close"]
    sma_50 = rolling_mean(close, 50)
    sma_200 = rolling_mean(close, 200)
    trend = close / sma_200 - 1
    ret_1d = close.pct_change(fill_method=None)
    volatility = rolling_std(np.log(close).diff(), 20) * np.sqrt(252)

    regime = np.where(
        (trend > 0.0) & (sma_50 > sma_200), "bull",
        np.where((trend < 0.0) & (sma_50 < sma_200), "bear", "range"),
    )
    out = pd.DataFrame({"as_of": bench["as_of"], "regime": regime, "benchmark_close": close,
                        "trend": trend, "volatility": volatility})
    breadth = market_breadth(features)
    out = out.merge(breadth, left_on="as_of", right_index=True, how="left")
    if vix is not None and not vix.empty:
        out = out.merge(vix[["as_of", "close"]].rename(columns={"close": "vix"}),
                        on="as_of", how="left")
    else:
        out["vix"] = np.nan
    out["defensive"] = (
        (out["vix"].fillna(0.0) > DEFENSIVE_VIX)
        | (out["volatility"].fillna(0.0) > DEFENSIVE_VOLATILITY)
        | (ret_1d.fillna(0.0) < CRASH_DROP)
        # The anomaly layer's black swan (a 4-sigma fall, or breadth collapsing while
        # volatility spikes) acts in the same bar: that close's decisions are defensive.
        | benchmark_black_swans(bench, breadth)["black_swan"].to_numpy()
    )
    return out[columns]
