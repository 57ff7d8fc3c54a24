"""The daily plan, made after a session's close for the next session."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from trade_pipelines.agent.perception.events import upcoming

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


def _activity(features: pd.DataFrame) -> pd.Series:
    """The most active names: the largest moves relative to their own volatility, or
    volume surges where volume is known. Row-wise, so any set of days can be scored."""
    activity = (features["ret_5d"].abs() / (features["vol_20"] / np.sqrt(52)))
    return activity.fillna(0.0) + features["volume_ratio"].fillna(1.0) - 1.0


_WATCH_COLUMNS = ["symbol", "close", "low_20", "high_55", "sma_50", "ret_5d"]


def _event_tasks(events: list[Mapping[str, Any]]) -> list[str]:
    """The risk window: each event ahead with its impact and, from 8, its response plan."""
    tasks = []
    for event in events:
        plan = f" Response: {event['response']}." if event["response"] else ""
        tasks.append(f"Event {event['as_of']}: {event['title']} (impact {event['impact']}/10, "
                     f"{event['reason']}).{plan}")
    return tasks


def _plan(regime: Mapping[str, Any], watch: list[Any],
          events: list[Mapping[str, Any]] = ()) -> DailyPlan:
    """The plan from a regime row and the watchlist rows, most active first (each with
    ``symbol, close, low_20, high_55, sma_50, ret_5d``), and the events ahead."""
    defensive = bool(regime["defensive"])
    name = str(regime["regime"])
    exposure = DEFENSIVE_EXPOSURE if defensive else EXPOSURE_BY_REGIME[name]
    stance = "defensive" if defensive else {"bull": "offensive", "range": "neutral",
                                            "bear": "cautious"}[name]
    key_levels = {
        row.symbol: {"close": _round(row.close), "support": _round(row.low_20),
                     "resistance": _round(row.high_55), "sma_50": _round(row.sma_50)}
        for row in watch
    }
    tasks = [f"Hold gross exposure near {exposure:.0%} ({stance} stance, {name} regime)."]
    if defensive:
        tasks.append("Defensive mode: no new long entries; review stops on all positions.")
    if np.isfinite(regime.get("vix", np.nan)):
        tasks.append(f"Volatility index at {regime['vix']:.1f}: size new positions accordingly.")
    for row in watch[:3]:
        if np.isfinite(row.high_55) and row.close >= row.high_55:
            tasks.append(f"{row.symbol} broke its 55-day high {row.high_55:.2f}: "
                         "confirm follow-through.")
        elif np.isfinite(row.low_20) and row.close <= row.low_20 * 1.01:
            tasks.append(f"{row.symbol} sits at 20-day support {row.low_20:.2f}: "
                         "watch for a bounce or break.")
        else:
            tasks.append(f"{row.symbol}: most active name; 5-day move {row.ret_5d:+.1%}.")
    tasks.extend(_event_tasks(list(events)))
    return DailyPlan(regime["as_of"], name, stance, exposure, [row.symbol for row in watch],
                     key_levels, tasks)


def make_plan(regime: pd.Series, day_features: pd.DataFrame) -> DailyPlan:
    """Plan from that day's regime row and feature rows (one per symbol)."""
    ranked = day_features.assign(activity=_activity(day_features)).sort_values(
        ["activity", "symbol"], ascending=[False, True], kind="mergesort")
    watch = list(ranked.head(WATCHLIST_SIZE)[_WATCH_COLUMNS].itertuples(index=False))
    return _plan(regime, watch)


def make_plans(regimes: pd.DataFrame, features: pd.DataFrame,
               events: pd.DataFrame | None = None) -> Iterator[DailyPlan]:
    """``make_plan`` for every regime row (in order) that has feature rows that day, with
    the events known by that close in the days ahead (``market_events``) where given.

    The ranking is done for all days at once; each plan still reads only its own day.
    """
    if regimes.empty or features.empty:
        return
    ranked = features.assign(activity=_activity(features)).sort_values(
        ["as_of", "activity", "symbol"], ascending=[True, False, True], kind="mergesort")
    top = ranked.groupby("as_of", sort=False).head(WATCHLIST_SIZE)
    watch_by_day: dict[Any, list[Any]] = {}
    for day, row in zip(top["as_of"], top[_WATCH_COLUMNS].itertuples(index=False),
                        strict=True):
        watch_by_day.setdefault(day, []).append(row)
    for regime in regimes.to_dict("records"):
        watch = watch_by_day.get(regime["as_of"])
        if watch is not None:
            yield _plan(regime, watch, upcoming(events, regime["as_of"])
                        if events is not None else [])
