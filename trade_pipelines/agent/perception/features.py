"""Market features per symbol and day, computed only from bars up to that day.

Every rolling window looks backwards, so a feature as of day t never reads a bar after t.
Close-only series are honest: range features that need highs and lows use closes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

FEATURE_COLUMNS = [
    "close", "ret_1d", "ret_5d", "ret_20d", "sma_20", "sma_50", "sma_200", "vol_20",
    "rsi_14", "zscore_20", "high_55", "low_20", "volume_ratio",
]
# Every feature has a finite look-back (at most 200 bars, ~400 calendar days), so
# features do not depend on where the loaded history starts.


def _windows(series: pd.Series, window: int) -> np.ndarray | None:
    values = series.to_numpy(dtype=float)
    if len(values) < window:
        return None
    return np.lib.stride_tricks.sliding_window_view(values, window)


def rolling_mean(series: pd.Series, window: int) -> pd.Series:
    """Mean of each full window, computed window by window.

    pandas' rolling mean keeps a running sum, so its last bits depend on where the series
    starts; here each value depends only on its window, so a feature is bit-for-bit the
    same whatever history was loaded before it (and a replay split anywhere equals one
    run). NaN anywhere in a window gives NaN, like ``min_periods=window``.
    """
    out = np.full(len(series), np.nan)
    windows = _windows(series, window)
    if windows is not None:
        out[window - 1:] = windows.mean(axis=1)
    return pd.Series(out, index=series.index)


def rolling_std(series: pd.Series, window: int) -> pd.Series:
    """Sample standard deviation of each full window, window by window (see rolling_mean)."""
    out = np.full(len(series), np.nan)
    windows = _windows(series, window)
    if windows is not None:
        out[window - 1:] = windows.std(axis=1, ddof=1)
    return pd.Series(out, index=series.index)


def _rsi(close: pd.Series, window: int = 14) -> pd.Series:
    """Cutler's RSI (simple averages): unlike Wilder's exponential smoothing it has a
    finite memory, so a feature is the same whatever history was loaded before it."""
    delta = close.diff()
    gain = rolling_mean(delta.clip(lower=0), window)
    loss = rolling_mean(-delta.clip(upper=0), window)
    rs = gain / loss.replace(0.0, np.nan)
    rsi = 100 - 100 / (1 + rs)
    # No losses: 100 if it rose, 50 if it did not move at all.
    flat = np.where(gain > 0, 100.0, 50.0)
    return rsi.where(loss > 0, flat).where(gain.notna())


def annual_volatility_20(close: pd.Series) -> pd.Series:
    """``vol_20``: the 20-day standard deviation of log returns, annualised. One function,
    so whatever sizes slippage from it (the ledger, the baselines) reads the same figure."""
    return rolling_std(np.log(close).diff(), 20) * np.sqrt(252)


def _symbol_features(bars: pd.DataFrame) -> pd.DataFrame:
    close = bars["close"]
    high = bars["high"].fillna(close) if "high" in bars else close
    low = bars["low"].fillna(close) if "low" in bars else close
    sma_20 = rolling_mean(close, 20)
    std_20 = rolling_std(close, 20)
    volume = bars["volume"] if "volume" in bars else pd.Series(np.nan, index=bars.index)
    out = pd.DataFrame({
        "symbol": bars["symbol"],
        "as_of": bars["as_of"],
        "close": close,
        "ret_1d": close.pct_change(fill_method=None),
        "ret_5d": close.pct_change(5, fill_method=None),
        "ret_20d": close.pct_change(20, fill_method=None),
        "sma_20": sma_20,
        "sma_50": rolling_mean(close, 50),
        "sma_200": rolling_mean(close, 200),
        "vol_20": annual_volatility_20(close),
        "rsi_14": _rsi(close),
        "zscore_20": (close - sma_20) / std_20.replace(0.0, np.nan),
        # Highest high of the 55 bars before today: a breakout is today's close above it.
        "high_55": high.shift(1).rolling(55, min_periods=55).max(),
        "low_20": low.shift(1).rolling(20, min_periods=20).min(),
        "volume_ratio": volume / rolling_mean(volume.shift(1), 20),
    })
    return out


def compute_features(bars: pd.DataFrame) -> pd.DataFrame:
    """Features for every (symbol, as_of) in ``bars`` (columns as in the ``bars`` table)."""
    if bars.empty:
        return pd.DataFrame(columns=["symbol", "as_of", *FEATURE_COLUMNS])
    ordered = bars.sort_values(["symbol", "as_of"], kind="mergesort").reset_index(drop=True)
    frames = [_symbol_features(group) for _, group in ordered.groupby("symbol", sort=True)]
    features = pd.concat(frames, ignore_index=True)
    return features.replace([np.inf, -np.inf], np.nan)


def equal_weight_index(bars: pd.DataFrame, base: float = 100.0) -> pd.DataFrame:
    """A benchmark when none is available: the compounded average daily return of the
    symbols trading each day (as_of, close)."""
    closes = bars.pivot_table(index="as_of", columns="symbol", values="close").sort_index()
    returns = closes.pct_change(fill_method=None).mean(axis=1).fillna(0.0)
    return pd.DataFrame({"as_of": closes.index, "close": base * (1 + returns).cumprod().values})
