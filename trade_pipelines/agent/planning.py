"""The daily plan, made after a session's close for the next session."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd

EXPOSURE_BY_REGIME = {"bull": 0.90, "range": 0.60, "bear": 0.40}
DEFENSIVE_EXPOSURE = 0.20
WATCHLIST_SIZE = 10


@dataclass(frozen=True)
class DailyPlan:
    as_of: object
    regime: str
    stance: str
    exposure_target: float
    watchlist: list[str]
    key_levels: dict[str, dict[str, float]]
    tasks: list[str]

    def row(self) -> dict[str, object]:
        return {"as_of": self.as_of, "regime": self.regime, "stance": self.stance,
                "exposure_target": self.exposure_target,
                "watchlist": json.dumps(self.watchlist),
                "key_levels": json.dumps(self.key_levels, sort_keys=True),
                "tasks": json.dumps(self.tasks)}


def _round(value: float) -> float:
    return float(round(value, 2)) if np.isfinite(value) else float("nan")


def make_plan(regime: pd.Series, day_features: pd.DataFrame) -> DailyPlan:
    """Plan from that day's regime row and feature rows (one per symbol)."""
    defensive = bool(regime["defensive"])
    name = str(regime["regime"])
    exposure = DEFENSIVE_EXPOSURE if defensive else EXPOSURE_BY_REGIME[name]
    stance = "defensive" if defensive else {"bull": "offensive", "range": "neutral",
                                            "bear": "cautious"}[name]
    # The most active names: the largest moves relative to their own volatility, or
    # volume surges where volume is known.
    activity = (day_features["ret_5d"].abs() / (day_features["vol_20"] / np.sqrt(52)))
    activity = activity.fillna(0.0) + day_features["volume_ratio"].fillna(1.0) - 1.0
    ranked = day_features.assign(activity=activity).sort_values(
        ["activity", "symbol"], ascending=[False, True], kind="mergesort")
    watch = ranked.head(WATCHLIST_SIZE)
    key_levels = {
        row.symbol: {"close": _round(row.close), "support": _round(row.low_20),
                     "resistance": _round(row.high_55), "sma_50": _round(row.sma_50)}
        for row in watch.itertuples()
    }
    tasks = [f"Hold gross exposure near {exposure:.0%} ({stance} stance, {name} regime)."]
    if defensive:
        tasks.append("Defensive mode: no new long entries; review stops on all positions.")
    if np.isfinite(regime.get("vix", np.nan)):
        tasks.append(f"Volatility index at {regime['vix']:.1f}: size new positions accordingly.")
    for row in watch.head(3).itertuples():
        if np.isfinite(row.high_55) and row.close >= row.high_55:
            tasks.append(f"{row.symbol} broke its 55-day high {row.high_55:.2f}: "
                         "confirm follow-through.")
        elif np.isfinite(row.low_20) and row.close <= row.low_20 * 1.01:
            tasks.append(f"{row.symbol} sits at 20-day support {row.low_20:.2f}: "
                         "watch for a bounce or break.")
        else:
            tasks.append(f"{row.symbol}: most active name; 5-day move {row.ret_5d:+.1%}.")
    return DailyPlan(regime["as_of"], name, stance, exposure, list(watch["symbol"]),
                     key_levels, tasks)
