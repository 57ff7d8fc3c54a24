"""The market's mood per day: volatility index (or realised volatility), breadth,
advance/decline, sector momentum, a fear/greed composite and the turning points, each
row with the reason in words. Day D's row reads bars and features up to D's close only.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from trade_pipelines.agent.perception.features import rolling_mean, rolling_std
from trade_pipelines.agent.perception.regime import market_breadth

# GICS sectors of the built-in US universe (``market_data/builtin.py``), as classified
# at the end of its data (December 2022).
US_SECTORS: Mapping[str, str] = {
    "AAPL": "Information Technology", "AMD": "Information Technology",
    "MSFT": "Information Technology", "BAC": "Financials", "JPM": "Financials",
    "BBY": "Consumer Discretionary", "HD": "Consumer Discretionary",
    "CVX": "Energy", "XOM": "Energy", "RRC": "Energy", "GE": "Industrials",
    "JNJ": "Health Care", "LLY": "Health Care", "MRK": "Health Care", "PFE": "Health Care",
    "UNH": "Health Care", "KO": "Consumer Staples", "PEP": "Consumer Staples",
    "PG": "Consumer Staples", "WMT": "Consumer Staples",
}

SENTIMENT_COLUMNS = [
    "as_of", "market", "volatility_source", "volatility_level", "volatility_change_5d",
    "breadth", "advancers", "decliners", "advance_decline", "sector_momentum",
    "leading_sector", "lagging_sector", "fear_greed", "turning_point", "reason",
]
REALISED_WINDOW = 20
MOMENTUM_WINDOW = 125
# Volatility (index points, or realised % a year) mapped onto fear: calm at 12, panic at 40.
CALM_VOLATILITY, PANIC_VOLATILITY = 12.0, 40.0
# A volatility spike: the 10-day high at least 25% above the trailing 60-day median.
SPIKE_RATIO = 1.25
SPIKE_LOOK_BACK = 10
BASELINE_WINDOW = 60
FEAR, GREED = 25.0, 75.0


def realised_label(benchmark_symbol: str) -> str:
    return f"realised_vol_{REALISED_WINDOW}d:{benchmark_symbol}"


def volatility_series(benchmark: pd.DataFrame, volatility_index: pd.DataFrame | None,
                      benchmark_symbol: str, index_symbol: str | None) -> pd.DataFrame:
    """Per benchmark day: the volatility index's close where it has one that day, else
    the benchmark's realised 20-day volatility annualised in percent (labelled as such),
    with each source's own 5-day change (never across a change of source)."""
    bench = benchmark.sort_values("as_of", kind="mergesort").reset_index(drop=True)
    realised = rolling_std(np.log(bench["close"].astype(float)).diff(),
                           REALISED_WINDOW) * math.sqrt(252) * 100
    out = pd.DataFrame({"as_of": bench["as_of"], "realised": realised,
                        "realised_change": realised - realised.shift(5)})
    if volatility_index is not None and not volatility_index.empty and index_symbol:
        vix = volatility_index.sort_values("as_of", kind="mergesort")[["as_of", "close"]]
        vix = vix.assign(index_change=vix["close"] - vix["close"].shift(5)).rename(
            columns={"close": "index"})
        out = out.merge(vix, on="as_of", how="left")
    else:
        out["index"] = np.nan
        out["index_change"] = np.nan
    has_index = out["index"].notna()
    out["volatility_source"] = np.where(has_index, index_symbol or "",
                                        realised_label(benchmark_symbol))
    out["volatility_level"] = np.where(has_index, out["index"], out["realised"])
    out["volatility_change_5d"] = np.where(has_index, out["index_change"],
                                           out["realised_change"])
    # A spike, and the level's retreat from it, within the same source's history.
    for _source, group in out.groupby("volatility_source", sort=False):
        level = group["volatility_level"]
        baseline = level.shift(1).rolling(BASELINE_WINDOW, min_periods=BASELINE_WINDOW // 2
                                          ).median()
        peak = level.rolling(SPIKE_LOOK_BACK, min_periods=1).max()
        out.loc[group.index, "spike_peak"] = peak.where(peak >= SPIKE_RATIO * baseline)
        out.loc[group.index, "baseline"] = baseline
    return out[["as_of", "volatility_source", "volatility_level", "volatility_change_5d",
                "spike_peak", "baseline"]]


def _scaled(value: pd.Series, low: float, high: float) -> pd.Series:
    return ((value - low) / (high - low)).clip(0.0, 1.0) * 100


def fear_greed(breadth: pd.Series, advance_decline: pd.Series, volatility: pd.Series,
               momentum: pd.Series) -> pd.Series:
    """0 (extreme fear) .. 100 (extreme greed): the mean of the components known that day,
    each 0-100: breadth, advance/decline, calm volatility, the benchmark against its
    125-day average (-10% .. +10%)."""
    parts = pd.DataFrame({
        "breadth": breadth * 100,
        "advance_decline": (advance_decline + 1) / 2 * 100,
        "volatility": 100 - _scaled(volatility, CALM_VOLATILITY, PANIC_VOLATILITY),
        "momentum": _scaled(momentum, -0.10, 0.10),
    })
    return parts.mean(axis=1, skipna=True).round(1)


def _mood(score: float) -> str:
    if not math.isfinite(score):
        return "unknown"
    if score < FEAR:
        return "fear"
    if score > GREED:
        return "greed"
    return "neutral"


def sector_momentum(features: pd.DataFrame, sectors: Mapping[str, str]) -> pd.DataFrame:
    """Per day: each sector's mean 20-day return over its symbols, as JSON, and the
    leading and lagging sectors."""
    columns = ["as_of", "sector_momentum", "leading_sector", "lagging_sector"]
    known = features[features["symbol"].isin(list(sectors))]
    if known.empty:
        return pd.DataFrame(columns=columns)
    table = (known.assign(sector=known["symbol"].map(sectors))
             .pivot_table(index="as_of", columns="sector", values="ret_20d", aggfunc="mean")
             .round(4).sort_index(axis=1))
    names = list(table.columns)
    values = table.to_numpy()
    rows = []
    for day, line in zip(table.index, values, strict=True):
        present = {name: float(v) for name, v in zip(names, line, strict=True)
                   if math.isfinite(v)}
        if not present:
            continue
        rows.append((day, json.dumps(present), max(present, key=present.__getitem__),
                     min(present, key=present.__getitem__)))
    return pd.DataFrame(rows, columns=columns)


def market_sentiment(market: str, benchmark: pd.DataFrame, features: pd.DataFrame,
                     benchmark_symbol: str, volatility_index: pd.DataFrame | None = None,
                     index_symbol: str | None = None,
                     sectors: Mapping[str, str] | None = None) -> pd.DataFrame:
    """One row per benchmark day (``SENTIMENT_COLUMNS``), each from that day's close and
    earlier only. ``benchmark``/``volatility_index``: as_of, close; ``features``: the
    universe's stored features (symbol, as_of, close, sma_50, ret_1d, ret_20d)."""
    if benchmark.empty:
        return pd.DataFrame(columns=SENTIMENT_COLUMNS)
    vol = volatility_series(benchmark, volatility_index, benchmark_symbol, index_symbol)
    bench = benchmark.sort_values("as_of", kind="mergesort").reset_index(drop=True)
    close = bench["close"].astype(float)
    momentum = pd.Series((close / rolling_mean(close, MOMENTUM_WINDOW) - 1).to_numpy(),
                         index=bench["as_of"])
    day = features["as_of"]
    daily = pd.DataFrame({
        "breadth": market_breadth(features),
        "advancers": (features["ret_1d"] > 0).groupby(day).sum(),
        "decliners": (features["ret_1d"] < 0).groupby(day).sum(),
    })
    out = vol.merge(daily, left_on="as_of", right_index=True, how="left")
    out["advancers"] = out["advancers"].fillna(0).astype(int)
    out["decliners"] = out["decliners"].fillna(0).astype(int)
    moved = out["advancers"] + out["decliners"]
    out["advance_decline"] = ((out["advancers"] - out["decliners"]) / moved.where(moved > 0))
    out["momentum"] = out["as_of"].map(momentum)
    out["fear_greed"] = fear_greed(out["breadth"], out["advance_decline"],
                                   out["volatility_level"], out["momentum"])
    sectors_by_day = sector_momentum(features, sectors or {})
    out = out.merge(sectors_by_day, on="as_of", how="left")
    out["sector_momentum"] = out["sector_momentum"].fillna("{}")
    out["turning_point"], turn_reasons = _turning_points(out)
    out["market"] = market
    out["reason"] = [_reason(row, why) for row, why in
                     zip(out.to_dict("records"), turn_reasons, strict=True)]
    out = out.astype({"leading_sector": object, "lagging_sector": object})
    out = out.where(out.notna(), None)
    return out[SENTIMENT_COLUMNS].reset_index(drop=True)


def _turning_points(out: pd.DataFrame) -> tuple[list[str | None], list[str]]:
    """A turn toward greed: breadth crosses above 50% while the volatility level retreats
    at least 15% from a spike in the last 10 days. A turn toward fear: breadth crosses
    below 50% while volatility rose at least 20% in 5 days to above its 60-day median.
    Each with its evidence."""
    breadth = out["breadth"].to_numpy(dtype=float)
    previous = out["breadth"].shift(1).to_numpy(dtype=float)
    level = out["volatility_level"].to_numpy(dtype=float)
    change = out["volatility_change_5d"].to_numpy(dtype=float)
    peaks = out["spike_peak"].to_numpy(dtype=float)
    baselines = out["baseline"].to_numpy(dtype=float)
    points: list[str | None] = []
    reasons: list[str] = []
    for b, p, lv, moved, peak, base in zip(breadth, previous, level, change, peaks,
                                           baselines, strict=True):
        if p < 0.5 <= b and math.isfinite(peak) and lv <= 0.85 * peak:
            points.append("toward_greed")
            reasons.append(f"turning point toward greed: breadth crossed above 50% "
                           f"({p:.0%} -> {b:.0%}) while volatility fell to {lv:.1f} from a "
                           f"spike of {peak:.1f} (60-day median {base:.1f})")
        elif p >= 0.5 > b and math.isfinite(moved) and lv - moved > 0 \
                and moved / (lv - moved) >= 0.20 and lv > base:
            points.append("toward_fear")
            reasons.append(f"turning point toward fear: breadth crossed below 50% "
                           f"({p:.0%} -> {b:.0%}) while volatility rose {moved:+.1f} to "
                           f"{lv:.1f} in 5 days (60-day median {base:.1f})")
        else:
            points.append(None)
            reasons.append("")
    return points, reasons


def _reason(row: Mapping[str, object], turn: str) -> str:
    def known(value: object) -> bool:
        return value is not None and isinstance(value, float | int) and math.isfinite(value)

    parts = []
    level, change = row["volatility_level"], row["volatility_change_5d"]
    if known(level):
        parts.append(f"{row['volatility_source']} {level:.1f}"
                     + (f" ({change:+.1f} in 5 days)" if known(change) else ""))
    if known(row["breadth"]):
        parts.append(f"breadth {row['breadth']:.0%} above their 50-day average")
    parts.append(f"{row['advancers']} up / {row['decliners']} down")
    if isinstance(row.get("leading_sector"), str):
        momentum = json.loads(str(row["sector_momentum"]))
        parts.append(f"leading {row['leading_sector']} "
                     f"({momentum[row['leading_sector']]:+.1%} 20d), lagging "
                     f"{row['lagging_sector']} ({momentum[row['lagging_sector']]:+.1%})")
    score = row["fear_greed"]
    if known(score):
        parts.append(f"fear/greed {score:.0f} ({_mood(float(score))})")
    if turn:
        parts.append(turn)
    return "; ".join(parts)
