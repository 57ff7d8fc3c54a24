"""The daily plan: stance and exposure by regime, the watchlist, key levels and tasks;
the all-days path gives exactly the one-day plans."""

from __future__ import annotations

import json
import math
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from trade_pipelines.agent.planning.daily_plan import (
    DEFENSIVE_EXPOSURE,
    EXPOSURE_BY_REGIME,
    WATCHLIST_SIZE,
    make_plan,
    make_plans,
)

DAY = date(2024, 3, 1)


def regime(name: str = "bull", defensive: bool = False, vix: float = np.nan,
           as_of: date = DAY) -> pd.Series:
    return pd.Series({"as_of": as_of, "regime": name, "defensive": defensive, "vix": vix})


def feature(symbol: str, ret_5d: float = 0.0, vol_20: float = 0.2, volume_ratio: float = 1.0,
            close: float = 100.0, low_20: float = 90.0, high_55: float = 120.0,
            sma_50: float = 95.0, as_of: date = DAY) -> dict[str, object]:
    return {"symbol": symbol, "as_of": as_of, "close": close, "ret_5d": ret_5d,
            "vol_20": vol_20, "volume_ratio": volume_ratio, "low_20": low_20,
            "high_55": high_55, "sma_50": sma_50}


def features(*rows: dict[str, object]) -> pd.DataFrame:
    return pd.DataFrame(list(rows))


@pytest.mark.parametrize(("name", "stance"), [("bull", "offensive"), ("range", "neutral"),
                                              ("bear", "cautious")])
def test_exposure_and_stance_follow_the_regime(name: str, stance: str) -> None:
    plan = make_plan(regime(name), features(feature("AAA")))
    assert plan.exposure_target == EXPOSURE_BY_REGIME[name]
    assert plan.stance == stance
    assert plan.regime == name
    assert plan.tasks[0].startswith(f"Hold gross exposure near {EXPOSURE_BY_REGIME[name]:.0%}")
    assert not any("Defensive mode" in task for task in plan.tasks)


@pytest.mark.parametrize("name", ["bull", "range", "bear"])
def test_a_defensive_day_holds_twenty_percent_whatever_the_regime(name: str) -> None:
    plan = make_plan(regime(name, defensive=True), features(feature("AAA")))
    assert plan.exposure_target == DEFENSIVE_EXPOSURE == 0.20
    assert plan.stance == "defensive"
    assert plan.tasks[0] == f"Hold gross exposure near 20% (defensive stance, {name} regime)."
    assert plan.tasks[1].startswith("Defensive mode: no new long entries")


def test_watchlist_is_the_most_active_names_ties_by_symbol() -> None:
    rows = [feature(f"S{i:02d}", ret_5d=i / 100) for i in range(15)]
    rows += [feature("ZZZ", volume_ratio=3.0), feature("AAB", ret_5d=0.14),
             feature("AAA", ret_5d=-0.14)]
    plan = make_plan(regime(), features(*rows))
    assert len(plan.watchlist) == WATCHLIST_SIZE
    # |5-day move| / weekly volatility, plus the volume surge above 1
    assert plan.watchlist[:3] == ["AAA", "AAB", "S14"]
    activity = {r["symbol"]: abs(r["ret_5d"]) / (r["vol_20"] / np.sqrt(52))
                + r["volume_ratio"] - 1 for r in rows}
    expected = sorted(activity, key=lambda s: (-activity[s], s))[:WATCHLIST_SIZE]
    assert plan.watchlist == expected
    assert set(plan.key_levels) == set(plan.watchlist)


def test_missing_activity_counts_as_none() -> None:
    plan = make_plan(regime(), features(feature("AAA", vol_20=np.nan, volume_ratio=np.nan),
                                        feature("BBB", ret_5d=0.01)))
    assert plan.watchlist == ["BBB", "AAA"]


def test_key_levels_are_rounded_and_missing_levels_stay_missing() -> None:
    plan = make_plan(regime(), features(feature("AAA", close=101.23456, low_20=np.nan,
                                                high_55=130.005, sma_50=99.999)))
    levels = plan.key_levels["AAA"]
    assert levels["close"] == 101.23
    assert math.isnan(levels["support"])
    assert levels["resistance"] == round(130.005, 2)
    assert levels["sma_50"] == 100.0


def test_tasks_name_breakouts_support_and_activity() -> None:
    rows = features(
        feature("BRK", ret_5d=0.09, close=125.0, high_55=120.0),
        feature("SUP", ret_5d=0.08, close=90.5, low_20=90.0, high_55=130.0),
        feature("ACT", ret_5d=0.07, close=100.0),
        feature("QUIET", ret_5d=0.0, close=125.0, high_55=120.0),
    )
    tasks = make_plan(regime(vix=23.44), rows).tasks
    assert tasks[1] == "Volatility index at 23.4: size new positions accordingly."
    assert tasks[2] == "BRK broke its 55-day high 120.00: confirm follow-through."
    assert tasks[3] == "SUP sits at 20-day support 90.00: watch for a bounce or break."
    assert tasks[4] == "ACT: most active name; 5-day move +7.0%."
    assert len(tasks) == 5  # only the three most active names get a task


def test_no_volatility_task_without_the_index() -> None:
    tasks = make_plan(regime(vix=np.nan), features(feature("AAA"))).tasks
    assert not any(task.startswith("Volatility index") for task in tasks)


def test_row_is_json_for_the_warehouse() -> None:
    plan = make_plan(regime("range", vix=18.0), features(feature("AAA"), feature("BBB")))
    row = plan.row()
    assert row["as_of"] == DAY
    assert json.loads(row["watchlist"]) == plan.watchlist
    assert json.loads(row["tasks"]) == plan.tasks
    assert json.loads(row["key_levels"]) == plan.key_levels


# -- all days at once --------------------------------------------------------------------

def random_days(seed: int, n_days: int = 30, n_symbols: int = 14) -> tuple[pd.DataFrame,
                                                                         pd.DataFrame]:
    rng = np.random.default_rng(seed)
    days = [DAY + timedelta(days=i) for i in range(n_days)]
    rows = []
    for day in days:
        for s in range(n_symbols):
            rows.append(feature(
                f"S{s:02d}", as_of=day, ret_5d=float(rng.choice([0.02, -0.02, 0.0, 0.05])),
                vol_20=float(rng.choice([0.2, 0.3, np.nan])),
                volume_ratio=float(rng.choice([1.0, 1.5, np.nan])),
                close=float(rng.uniform(80, 130)), low_20=float(rng.uniform(80, 100)),
                high_55=float(rng.choice([110.0, 120.0, np.nan])), sma_50=100.0))
    regimes = pd.DataFrame([
        {"as_of": day, "regime": str(rng.choice(["bull", "bear", "range"])),
         "defensive": bool(rng.random() < 0.2), "vix": float(rng.choice([15.0, 45.0, np.nan]))}
        for day in days])
    return regimes, pd.DataFrame(rows).sample(frac=1.0, random_state=seed)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_all_days_path_equals_one_plan_per_day(seed: int) -> None:
    regimes, rows = random_days(seed)
    by_day = dict(tuple(rows.groupby("as_of")))
    expected = [make_plan(r, by_day[r["as_of"]]).row() for _, r in regimes.iterrows()]
    assert [p.row() for p in make_plans(regimes, rows)] == expected


def test_days_without_features_get_no_plan() -> None:
    regimes, rows = random_days(4, n_days=5)
    missing = regimes["as_of"].iloc[2]
    plans = list(make_plans(regimes, rows[rows["as_of"] != missing]))
    assert [p.as_of for p in plans] == [d for d in regimes["as_of"] if d != missing]
    assert list(make_plans(regimes, rows.iloc[:0])) == []


def test_a_plan_never_reads_later_days() -> None:
    regimes, rows = random_days(5, n_days=10)
    cut = regimes["as_of"].iloc[4]
    before = [p.row() for p in make_plans(regimes, rows) if p.as_of <= cut]
    later = rows["as_of"] > cut
    perturbed = rows.copy()
    perturbed.loc[later, "ret_5d"] = 0.5
    perturbed.loc[later, "close"] = 1.0
    after = [p.row() for p in make_plans(regimes, perturbed)]
    assert [r for r in after if r["as_of"] <= cut] == before
    assert [r for r in after if r["as_of"] > cut] != [
        p.row() for p in make_plans(regimes, rows) if p.as_of > cut]


def test_the_plan_lists_the_known_events_ahead_with_their_response() -> None:
    def event(title: str, as_of: date, known_from: date, impact: int, response: str) -> dict:
        return {"event_id": title, "as_of": as_of, "known_from": known_from,
                "kind": "earnings", "symbol": "AAA", "title": title, "impact": impact,
                "reason": "earnings of AAA, a traded name", "memory": "m",
                "response": response, "blackout_days": "[]", "size_scale": 1.0,
                "source": "s"}

    events = pd.DataFrame([
        event("AAA earnings", DAY + timedelta(days=3), DAY - timedelta(days=10), 8,
              "no new entries into AAA on 2024-03-01 and 2024-03-04"),
        event("BBB earnings", DAY + timedelta(days=2), DAY + timedelta(days=1), 8, "x"),
        event("CCC earnings", DAY + timedelta(days=30), DAY - timedelta(days=1), 8, "x"),
        event("DDD earnings", DAY, DAY - timedelta(days=14), 8, "x"),
    ])
    plan = next(make_plans(pd.DataFrame([regime()]), features(feature("AAA")), events))
    listed = [t for t in plan.tasks if t.startswith("Event ")]
    # BBB is not known yet, CCC is beyond the risk window, DDD is today (already past).
    assert listed == ["Event 2024-03-04: AAA earnings (impact 8/10, earnings of AAA, a "
                      "traded name). Response: no new entries into AAA on 2024-03-01 and "
                      "2024-03-04."]
    # Without events the plan is as before.
    assert next(make_plans(pd.DataFrame([regime()]), features(feature("AAA")))).tasks == \
        [t for t in plan.tasks if not t.startswith("Event ")]
