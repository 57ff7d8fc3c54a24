"""The reviews inside the day loop: they change what the agent does from the session after
their close, a rollback gives exactly the behaviour of a run in which the change was never
made, the ``no_reflection`` ablation records changes but trades as if none was made, and
perturbing the future changes no review made before it."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest

from trade_pipelines.agent.loop.simulation import run_agent_loop
from trade_pipelines.agent.loop.variant import ABLATIONS, FULL_AGENT
from trade_pipelines.agent.reflection.changes import (
    ROLLBACK,
    Change,
    HumanDecision,
    changes_from_rows,
)
from trade_pipelines.agent.reflection.cycles import ReflectionCycle, ReflectionOutput
from trade_pipelines.market_data.builtin import BENCHMARK_SYMBOL, VIX_SYMBOL, load_builtin_bars
from trade_pipelines.market_data.calendar import exchange_sessions

START, END = date(2015, 1, 2), date(2016, 6, 30)
LEDGER = ("orders", "fills", "trades", "accounts", "positions")


@pytest.fixture(scope="module")
def universe() -> tuple[pd.DataFrame, list[str]]:
    bars = load_builtin_bars()
    symbols = sorted(set(bars["symbol"]) - {BENCHMARK_SYMBOL, VIX_SYMBOL})[:12]
    return bars[bars["as_of"] >= date(2012, 1, 1)], symbols


def _run(universe: tuple, **kwargs: Any) -> dict[str, pd.DataFrame]:
    bars, symbols = universe
    return run_agent_loop(bars, START, END, symbols, BENCHMARK_SYMBOL, VIX_SYMBOL,
                          **kwargs)["frames"]


@pytest.fixture(scope="module")
def full(universe: tuple) -> dict[str, pd.DataFrame]:
    return _run(universe)


def _cited(decisions: pd.DataFrame) -> pd.Series:
    return decisions["changes_applied"].map(json.loads)


def _before(frame: pd.DataFrame, day: date) -> pd.DataFrame:
    return frame[frame["as_of"] < day].reset_index(drop=True)


def test_every_horizon_reviews_and_plans(full: dict) -> None:
    plans = full["horizon_plans"]
    scheduled = plans[plans["reason"] == "scheduled"]
    sessions = exchange_sessions(START, END, "XNYS")
    months = {(d.year, d.month) for d in sessions}
    # every month and quarter ending in the window on its last session is reviewed
    assert len(scheduled[scheduled["horizon"] == "monthly"]) == len(months)
    assert len(scheduled[scheduled["horizon"] == "quarterly"]) == 6
    ahead = exchange_sessions(START, END + timedelta(days=10), "XNYS")
    week_ends = [d for d, n in zip(ahead, ahead[1:], strict=False)
                 if tuple(d.isocalendar())[:2] != tuple(n.isocalendar())[:2] and d <= END]
    assert len(scheduled[scheduled["horizon"] == "weekly"]) == len(week_ends)
    assert set(scheduled.loc[scheduled["horizon"] == "weekly", "as_of"]) == set(week_ends)
    changes = full["changes"]
    assert {"principle", "parameter", "allocation"} <= set(changes["kind"])
    assert (changes["evidence"].str.len() > 20).all()


def test_a_change_applies_from_the_session_after_its_review(full: dict) -> None:
    sessions = exchange_sessions(START, date(2016, 7, 31), "XNYS")
    nxt = {d: sessions[i + 1] for i, d in enumerate(sessions[:-1])}
    changes = full["changes"]
    assert all(e == nxt[a] for a, e in zip(changes["as_of"], changes["effective_from"],
                                           strict=True))
    effective = dict(zip(changes["change_id"], changes["effective_from"], strict=True))
    decisions = full["decisions"]
    cited = [(d, c) for d, ids in zip(decisions["as_of"], _cited(decisions), strict=True)
             for c in ids]
    assert cited, "no decision was shaped by a review"
    assert all(day >= effective[c] for day, c in cited)
    shaped = decisions[_cited(decisions).map(bool)]
    assert shaped["transcript"].str.contains("Checklist:").all()


def test_without_reflection_reviews_record_but_change_nothing(universe: tuple,
                                                                full: dict) -> None:
    ablated = _run(universe, variant=ABLATIONS["no_reflection"])
    assert not ablated["changes"].empty
    assert (ablated["decisions"]["changes_applied"] == "[]").all()
    assert not ablated["decisions"]["transcript"].str.contains("Checklist:").any()
    # the same debate: the full agent's decisions differ only where a change shaped them
    assert not full["decisions"]["weight_combined"].equals(
        ablated["decisions"]["weight_combined"])
    assert FULL_AGENT.reflection and not ABLATIONS["no_reflection"].reflection


def _target_change(full: dict) -> Change:
    """The first change that shaped a decision's size."""
    decisions = full["decisions"]
    cited = {c for ids in _cited(decisions) for c in ids}
    changes = full["changes"]
    first = changes[changes["change_id"].isin(cited)].sort_values(["as_of", "change_id"])
    return changes_from_rows(first.head(1))[0]


class _NeverMade(ReflectionCycle):
    """The reviews of the full agent, except that one change is never made."""

    never: tuple[str, str, str] = ("", "", "")

    def _change(self, out: ReflectionOutput, day: date, effective: date, review: str,
                kind: str, target: str, new_value: Any, evidence: str) -> None:
        if (review, kind, target) != self.never:
            super()._change(out, day, effective, review, kind, target, new_value, evidence)


def _rollback(change: Change, effective_from: date) -> HumanDecision:
    return HumanDecision(change.change_id, ROLLBACK, effective_from, "test rollback",
                         "a tester", datetime(2016, 7, 1, tzinfo=UTC).replace(tzinfo=None))


def test_a_rollback_gives_the_run_where_the_change_never_happened(universe: tuple,
                                                                  full: dict) -> None:
    change = _target_change(full)
    rolled = _run(universe, human=[_rollback(change, change.effective_from)])
    _NeverMade.never = (change.review, change.kind, change.target)
    never = _run(universe, reflection=_NeverMade)
    for table in (*LEDGER, "decisions"):
        pd.testing.assert_frame_equal(rolled[table], never[table])
    # the change itself stays on record; it shaped no decision of the rolled-back run
    assert change.change_id in set(rolled["changes"]["change_id"])
    assert change.change_id not in {c for ids in _cited(rolled["decisions"]) for c in ids}
    # history before it is untouched, and it mattered after
    for table in LEDGER:
        pd.testing.assert_frame_equal(_before(rolled[table], change.effective_from),
                                      _before(full[table], change.effective_from))
    assert not rolled["decisions"].equals(full["decisions"])


def test_a_later_rollback_keeps_the_history_before_it(universe: tuple, full: dict) -> None:
    change = _target_change(full)
    sessions = exchange_sessions(change.effective_from, END, "XNYS")
    later = sessions[10]
    rolled = _run(universe, human=[_rollback(change, later)])
    for table in (*LEDGER, "decisions"):
        pd.testing.assert_frame_equal(_before(rolled[table], later),
                                      _before(full[table], later))
    after = rolled["decisions"][rolled["decisions"]["as_of"] >= later]
    assert change.change_id not in {c for ids in _cited(after) for c in ids}
    cited_before = {c for ids in _cited(_before(rolled["decisions"], later)) for c in ids}
    assert change.change_id in cited_before


def test_perturbing_the_future_changes_no_earlier_review(universe: tuple,
                                                          full: dict) -> None:
    bars, symbols = universe
    cut = date(2015, 11, 2)
    rng = np.random.default_rng(9)
    later = bars["as_of"] >= cut
    noise = rng.uniform(0.7, 1.3, int(later.sum()))
    perturbed = bars.copy()
    for column in ("open", "high", "low", "close"):
        perturbed.loc[later, column] = perturbed.loc[later, column] * noise
    moved = run_agent_loop(perturbed, START, END, symbols, BENCHMARK_SYMBOL, VIX_SYMBOL
                           )["frames"]
    for table in ("changes", "horizon_plans", "framework_proposals", "decisions",
                  "accounts"):
        pd.testing.assert_frame_equal(_before(moved[table], cut), _before(full[table], cut))
    assert not moved["changes"].equals(full["changes"])
