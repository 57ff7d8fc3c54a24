"""Market regime per day: bull, bear or range, and a defensive flag for black-swan days.

Where the market has a volatility index (the VIX, US stocks only), a level above 40 is a
black-swan sign. Elsewhere the benchmark's realised volatility stands in, and the ``vix``
column is empty. A market that trades every day (crypto) is calm at volatilities an
exchange would call a crash (Bitcoin's is rarely below 40% a year), so there volatility
is annualised over 365 days and judged against its own recent past: defensive above
twice its median of the past half year.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from trade_pipelines.agent.markets import market_of_symbol, market_rules
from trade_pipelines.agent.perception.anomalies import BREADTH_MIN_NAMES, benchmark_black_swans
from trade_pipelines.agent.perception.features import rolling_mean, rolling_std

DEFENSIVE_VIX = 40.0
DEFENSIVE_VOLATILITY = 0.40
# A market trading every day: defensive when its volatility passes this multiple of its
# median over the past ALWAYS_OPEN_VOLATILITY_DAYS days (never below the fixed level).
ALWAYS_OPEN_VOLATILITY_MULTIPLE = 2.0
ALWAYS_OPEN_VOLATILITY_DAYS = 182
ALWAYS_OPEN_MIN_DAYS = 60


def benchmark_always_open(benchmark: pd.DataFrame) -> bool:
    """True when the benchmark's ticker (its ``symbol`` column) is of a market with no
    closing bell (crypto); False without a symbol (an equal-weighted index)."""
    if "symbol" not in benchmark or benchmark.empty:
        return False
    symbols = [str(s) for s in benchmark["symbol"].dropna().unique()]
    return bool(symbols) and all(
        market_rules(market_of_symbol(s)).always_open for s in symbols)


def defensive_volatility(volatility: pd.Series, always_open: bool) -> pd.Series:
    """Per day, the realised volatility above which the day is defensive: the fixed level,
    or for a market trading every day, twice its median of the past half year (from days
    up to that one only, at least ALWAYS_OPEN_MIN_DAYS of them; never below the fixed
    level). Until then an always-open market has no volatility trigger: its usual
    volatility is far above the stock-market level and not yet known."""
    fixed = pd.Series(DEFENSIVE_VOLATILITY, index=volatility.index)
    if not always_open:
        return fixed
    median = volatility.rolling(ALWAYS_OPEN_VOLATILITY_DAYS,
                                min_periods=ALWAYS_OPEN_MIN_DAYS).median()
    return np.maximum(fixed, ALWAYS_OPEN_VOLATILITY_MULTIPLE * median.fillna(np.inf))


def market_breadth(features: pd.DataFrame) -> pd.Series:
    """Per day, the share of stocks closing above their 50-day average."""
    above = (features["close"] > features["sma_50"]).astype(float).where(
        features["sma_50"].notna())
    return above.groupby(features["as_of"]).mean().rename("breadth")


def collapse_breadth(features: pd.DataFrame) -> pd.Series:
    """``market_breadth`` on the days at least ``BREADTH_MIN_NAMES`` stocks have a 50-day
    average, NaN on the others: the breadth the black-swan rule may read (with two coins,
    breadth swings 0-50-100% on one name's move and would call a collapse every dip)."""
    breadth = market_breadth(features)
    names = features["sma_50"].notna().groupby(features["as_of"]).sum()
    return breadth.where(names.reindex(breadth.index).fillna(0) >= BREADTH_MIN_NAMES)


def detect_regimes(
    benchmark: pd.DataFrame, features: pd.DataFrame, vix: pd.DataFrame | None = None,
    always_open: bool | None = None,
) -> pd.DataFrame:
    """One row per benchmark day, from data up to that day.

    ``benchmark``: as_of, close of the benchmark index (and its ``symbol``, which tells
    whether its market trades every day when ``always_open`` is None). ``features``: the
    stock features (for breadth: the share of stocks above their 50-day average).
    ``vix``: as_of, close of the volatility index (empty or None where there is none).
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
    if always_open is None:
        always_open = benchmark_always_open(bench)
    volatility = rolling_std(np.log(close).diff(), 20) * np.sqrt(365 if always_open else 252)

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
        | (out["volatility"].fillna(0.0) > defensive_volatility(volatility, always_open))
        # The anomaly layer's black swan (a 7% fall, a 4-sigma fall, or breadth collapsing
        # while volatility spikes) acts in the same bar: that close's decisions are defensive.
        | benchmark_black_swans(bench, collapse_breadth(features),
                                always_open)["black_swan"].to_numpy()
    )
    return out[columns]
