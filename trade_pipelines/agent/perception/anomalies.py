"""Anomalies per bar: price jumps, volume bursts, volatility spikes and gaps, each scored
against the symbol's own trailing history (never a later bar), combined into 0-10; and
the black-swan signal that puts the agent in defensive mode in the same bar.

The built-in US bars are closes only: their volume burst and gap are NaN (not zero) and
the combined score rests on the price and volatility scores.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

# Trailing windows, in bars; the bar scored is never inside its own baseline.
VOL_WINDOW = 60
VOL_MIN_BARS = 20
VOLUME_WINDOW = 20
SPIKE_WINDOW = 5
# Bars of history a new bar needs for a full score (``score_new_bar``).
LOOK_BACK = VOL_WINDOW + 1

# Component -> (value at score 0, value at score 10); linear in between.
SCALES: Mapping[str, tuple[float, float]] = {
    "return_z": (2.0, 6.0),          # |return| in trailing standard deviations
    "volume_burst": (1.5, 6.0),      # volume / trailing 20-bar median volume
    "volatility_spike": (1.5, 4.0),  # 5-bar realised vol / trailing 60-bar vol
    "gap": (1.5, 5.0),               # |open / previous close - 1| in trailing deviations
}
# Black swan: the benchmark falls more than 7% in a day, or more than 4 trailing
# deviations and at least 3% (a 4-sigma 1.8% dip in a calm month is no black swan), or
# breadth collapses while volatility spikes. A market with no closing bell (crypto) falls
# 7% in a day dozens of times a year: there only the deviation rule and breadth count.
BLACK_SWAN_SIGMA = -4.0
BLACK_SWAN_MIN_DROP = -0.03
BLACK_SWAN_DROP = -0.07
BREADTH_COLLAPSE = 0.30          # breadth down at least this much over 5 sessions ...
BREADTH_FLOOR = 0.20             # ... to below this share
BREADTH_SPIKE = 2.0              # ... while the volatility spike ratio is at least this
BREADTH_MIN_NAMES = 5            # breadth of fewer names says nothing about a market

ANOMALY_COLUMNS = ["symbol", "as_of", "return_z", "volume_burst", "volatility_spike", "gap",
                   "score", "black_swan", "reason"]


def component_scores(frame: pd.DataFrame) -> np.ndarray:
    """0-10 per component (columns in ``SCALES`` order); an unknown value scores 0."""
    scores = []
    for name, (low, high) in SCALES.items():
        value = np.abs(frame[name].to_numpy(dtype=float))
        scores.append(np.nan_to_num(np.clip((value - low) / (high - low) * 10.0, 0.0, 10.0)))
    return np.column_stack(scores)


def _one_symbol(bars: pd.DataFrame) -> pd.DataFrame:
    """Scores of one symbol's bars in date order."""
    close = bars["close"].astype(float)
    log_return = np.log(close).diff()
    trailing_vol = log_return.shift(1).rolling(VOL_WINDOW, min_periods=VOL_MIN_BARS).std()
    trailing_vol = trailing_vol.replace(0.0, np.nan)
    previous_close = close.shift(1)
    ret = close / previous_close - 1
    volume = bars["volume"].astype(float) if "volume" in bars else pd.Series(np.nan,
                                                                              index=bars.index)
    median_volume = volume.shift(1).rolling(VOLUME_WINDOW, min_periods=VOLUME_WINDOW // 2
                                            ).median().replace(0.0, np.nan)
    recent_vol = log_return.rolling(SPIKE_WINDOW, min_periods=SPIKE_WINDOW).std()
    opened = bars["open"].astype(float) if "open" in bars else pd.Series(np.nan,
                                                                          index=bars.index)
    return pd.DataFrame({
        "symbol": bars["symbol"].to_numpy(), "as_of": bars["as_of"].to_numpy(),
        "ret_1d": ret.to_numpy(),
        "return_z": (log_return / trailing_vol).to_numpy(),
        "volume_burst": (volume / median_volume).to_numpy(),
        "volatility_spike": (recent_vol / trailing_vol).to_numpy(),
        "gap": (np.log(opened / previous_close) / trailing_vol).to_numpy(),
    })


def _reason(row: Mapping[str, float]) -> str:
    parts = []
    if math.isfinite(row["return_z"]):
        parts.append(f"move {row['ret_1d']:+.1%} = {row['return_z']:+.1f} sd of the trailing "
                     f"{VOL_WINDOW}-bar volatility")
    if math.isfinite(row["volume_burst"]):
        parts.append(f"volume {row['volume_burst']:.1f}x its {VOLUME_WINDOW}-bar median")
    if math.isfinite(row["volatility_spike"]):
        parts.append(f"{SPIKE_WINDOW}-bar volatility {row['volatility_spike']:.1f}x the "
                     "trailing level")
    if math.isfinite(row["gap"]):
        parts.append(f"opening gap {row['gap']:+.1f} sd")
    return "; ".join(parts) or f"fewer than {VOL_MIN_BARS} bars of history: not scored"


def anomaly_scores(bars: pd.DataFrame, benchmark_symbol: str | None = None,
                   breadth: pd.Series | None = None,
                   always_open: bool = False) -> pd.DataFrame:
    """One row per bar (``ANOMALY_COLUMNS``): each component against the symbol's own
    trailing history, the combined score 0-10 (the strongest component, plus one for
    each other component past 5) and, on the benchmark's rows, the black-swan flag.

    ``bars``: symbol, as_of, close, and open / volume where known. ``breadth``: the share
    of the universe above its 50-day average, indexed by day (for the breadth collapse).
    ``always_open``: the benchmark's market has no closing bell (no fixed-drop rule).
    """
    if bars.empty:
        return pd.DataFrame(columns=ANOMALY_COLUMNS)
    ordered = bars.sort_values(["symbol", "as_of"], kind="mergesort")
    parts = [_one_symbol(group) for _, group in ordered.groupby("symbol", sort=True)]
    out = pd.concat(parts, ignore_index=True)
    components = component_scores(out)
    strongest = components.max(axis=1)
    others = (components >= 5.0).sum(axis=1) - (strongest >= 5.0)
    out["score"] = np.round(np.minimum(10.0, strongest + others), 1)
    out["black_swan"] = False
    out["reason"] = [_reason(row) for row in out.to_dict("records")]
    if benchmark_symbol is not None:
        mask = out["symbol"] == benchmark_symbol
        if mask.any():
            swans = black_swan_days(out[mask], breadth, always_open)
            out.loc[mask, "black_swan"] = swans["black_swan"].to_numpy()
            flagged = mask & out["black_swan"]
            out.loc[flagged, "reason"] = ("BLACK SWAN: " + swans.loc[
                swans["black_swan"], "why"].to_numpy() + "; " + out.loc[flagged, "reason"])
    return out[ANOMALY_COLUMNS]


def benchmark_black_swans(benchmark: pd.DataFrame, breadth: pd.Series | None = None,
                          always_open: bool = False) -> pd.DataFrame:
    """``black_swan_days`` of the benchmark's bars (as_of, close in any order)."""
    ordered = benchmark.sort_values("as_of", kind="mergesort").reset_index(drop=True)
    return black_swan_days(_one_symbol(ordered.assign(symbol="benchmark")), breadth,
                           always_open)


def black_swan_days(benchmark_scores: pd.DataFrame, breadth: pd.Series | None = None,
                    always_open: bool = False) -> pd.DataFrame:
    """Per benchmark bar (rows of ``_one_symbol`` in date order): ``black_swan`` and
    ``why``. From that bar and the ones before only, so it can act in the same bar."""
    scores = benchmark_scores.reset_index(drop=True)
    ret = scores["ret_1d"].astype(float)
    z = scores["return_z"].astype(float)
    crash = (z <= BLACK_SWAN_SIGMA) & (ret <= BLACK_SWAN_MIN_DROP)
    if not always_open:
        crash |= ret <= BLACK_SWAN_DROP
    collapse = pd.Series(False, index=scores.index)
    day_breadth = pd.Series(np.nan, index=scores.index)
    if breadth is not None and not breadth.empty:
        day_breadth = scores["as_of"].map(breadth).astype(float)
        fell = day_breadth.shift(5) - day_breadth
        collapse = ((fell >= BREADTH_COLLAPSE) & (day_breadth < BREADTH_FLOOR)
                    & (scores["volatility_spike"].astype(float) >= BREADTH_SPIKE))
    why = []
    for i in range(len(scores)):
        if crash.iloc[i]:
            why.append(f"benchmark {ret.iloc[i]:+.1%} in a day ({z.iloc[i]:+.1f} sd)")
        elif collapse.iloc[i]:
            why.append(f"breadth collapsed to {day_breadth.iloc[i]:.0%} while volatility "
                       f"spiked {scores['volatility_spike'].iloc[i]:.1f}x")
        else:
            why.append("")
    return pd.DataFrame({"as_of": scores["as_of"], "black_swan": (crash | collapse).to_numpy(),
                         "why": why})


def score_new_bar(history: pd.DataFrame, bar: Mapping[str, object]) -> dict[str, object]:
    """Score one bar that has just arrived, from its symbol's bars before it (the last
    ``LOOK_BACK`` are enough): the row ``anomaly_scores`` gives that bar (without the
    black-swan flag, which needs the market's breadth)."""
    recent = history.sort_values("as_of", kind="mergesort").tail(LOOK_BACK)
    frame = pd.concat([recent, pd.DataFrame([dict(bar)])], ignore_index=True)
    return anomaly_scores(frame).iloc[-1].to_dict()
