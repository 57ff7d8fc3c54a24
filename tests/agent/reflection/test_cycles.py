"""The reviews inside the day loop, on a real exchange calendar with synthetic trades and
accounts: weekly principles and their withdrawal, no look-ahead, catch-up over a data
gap, a resumed cycle equal to the uninterrupted one, the ``no_reflection`` ablation, the
monthly parameters' hard bounds and the quarterly proposals waiting for a human."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest

from trade_pipelines.agent.decision.checklist import apply_checklist
from trade_pipelines.agent.reflection import cycles
from trade_pipelines.agent.reflection.changes import (
    ALLOCATION,
    APPROVE,
    BASE_POLICY,
    PARAMETER,
    PARAMETER_BOUNDS,
    PRINCIPLE,
    PROPOSAL_COLUMNS,
    REJECT,
    FrameworkProposal,
    HumanDecision,
    changes_from_rows,
    proposals_from_rows,
)
from trade_pipelines.agent.reflection.cycles import ReflectionCycle, ReflectionOutput, plans_frame
from trade_pipelines.market_data.calendar import exchange_sessions

SESSIONS = exchange_sessions(date(2015, 9, 1), date(2017, 3, 31), "XNYS")
FAMILIES = {"S-mom": "momentum", "S-rev": "mean_reversion", "S-brk": "breakout",
            "S-trd": "trend", "S-bad": "sentiment"}
BEAR = {d: "bear" for d in SESSIONS}
TRADE_COLUMNS = ["as_of", "trade_id", "account", "symbol", "strategy_id", "opened_as_of",
                 "quantity", "entry_price", "exit_price", "pnl", "return_pct", "holding_days",
                 "exit_reason", "decision_id"]


def _between(first: date, last: date) -> list[date]:
    return [d for d in SESSIONS if first <= d <= last]


class Feed:
    """What the loop would observe each day: closed round trips (all three accounts),
    account rows and debated decisions."""

    def __init__(self) -> None:
        self.trades: dict[date, list[dict]] = {}
        self.accounts: dict[date, list[dict]] = {}
        self.decisions: dict[date, list[dict]] = {}

    def trade(self, closed: date, strategy: str, pnl: float, *, opened: date | None = None,
              holding: int = 3, symbol: str = "AAA", observed: date | None = None) -> None:
        opened = opened or SESSIONS[SESSIONS.index(closed) - holding]
        n = sum(len(v) for v in self.trades.values())
        decision = f"D-{n:05d}"
        for account in ("aggressive", "conservative", "combined"):
            self.trades.setdefault(observed or closed, []).append({
                "as_of": closed, "trade_id": f"T-{n:05d}-{account}", "account": account,
                "symbol": symbol, "strategy_id": strategy, "opened_as_of": opened,
                "quantity": 10.0, "entry_price": 100.0, "exit_price": 100.0 + pnl / 10,
                "pnl": pnl, "return_pct": pnl / 1000, "holding_days": holding,
                "exit_reason": "signal", "decision_id": decision})
        self.decisions.setdefault(opened, []).append({
            "as_of": opened, "decision_id": decision, "strategy_id": strategy,
            "verdict": "execute", "confidence": 0.6, "weight_aggressive": 0.1,
            "weight_conservative": 0.04, "weight_combined": 0.08, "summary": "Execute.",
            "transcript": "[]"})

    def account(self, day: date, equity: float, gross: float, daily_return: float,
                drawdown: float) -> None:
        for account in ("aggressive", "combined"):
            self.accounts.setdefault(day, []).append({
                "as_of": day, "account": account, "cash": equity - gross, "equity": equity,
                "gross_exposure": gross, "daily_return": daily_return, "drawdown": drawdown,
                "benchmark_close": 100.0})


class Run:
    """A cycle driven the way the trading loop drives it, with every day's output."""

    def __init__(self, cycle: ReflectionCycle, feed: Feed, families: Mapping[str, str],
                 regimes: Mapping[date, str]) -> None:
        self.cycle, self.feed, self.families, self.regimes = cycle, feed, families, regimes
        self.by_day: dict[date, ReflectionOutput] = {}
        self.policies: dict[date, Any] = {}
        self.entries: list[dict] = []

    def days(self, days: Sequence[date]) -> Run:
        for day in days:
            out = self.cycle.before_day(day)
            policy = self.cycle.policy_for(day)
            self.policies[day] = policy
            decisions = apply_checklist(self.feed.decisions.get(day, []), policy,
                                        self.regimes[day], self.families)
            self.entries += [d for d in decisions if d["weight_combined"] > 0]
            self.cycle.observe(day, decisions, self.feed.trades.get(day, []),
                               self.feed.accounts.get(day, []))
            out.extend(self.cycle.after_day(day))
            self.by_day[day] = out
        return self

    def output(self, first: date = date.min, last: date = date.max) -> ReflectionOutput:
        out = ReflectionOutput()
        for day, day_out in self.by_day.items():
            if first <= day <= last:
                out.extend(day_out)
        return out


def _principles(out: ReflectionOutput) -> list[dict]:
    return [c for c in out.changes if c["kind"] == PRINCIPLE]


def _losers(feed: Feed, strategy: str, closed: date, n: int, pnl: float = -20.0) -> None:
    for i in range(n):
        feed.trade(closed, strategy, pnl - i, symbol=f"{strategy}{i}")


# -- weekly principles ---------------------------------------------------------------------

def test_a_losing_cell_makes_a_principle_from_the_next_session_once() -> None:
    feed = Feed()
    _losers(feed, "S-mom", date(2016, 1, 6), 6)
    cycle = ReflectionCycle(SESSIONS, FAMILIES, BEAR)
    run = Run(cycle, feed, FAMILIES, BEAR).days(_between(date(2016, 1, 4), date(2016, 1, 15)))
    (change,) = _principles(run.output())
    assert change["as_of"] == date(2016, 1, 8) and change["review"] == "weekly review 2016-W01"
    assert change["effective_from"] == date(2016, 1, 11)
    assert change["target"] == "momentum in bear" and change["old_value"] is None
    assert json.loads(change["new_value"]) == {
        "text": "In a bear market, halve the size of momentum trades.", "family": "momentum",
        "regime": "bear", "size_multiplier": 0.5}
    assert "6 momentum trades" in change["evidence"] and "win rate 0%" in change["evidence"]
    assert cycle.policy_for(date(2016, 1, 8)).principles == {}
    assert cycle.policy_for(date(2016, 1, 11)).principles["momentum in bear"].size_multiplier \
        == 0.5
    # the next week's review has the same evidence: no second change
    assert _principles(run.by_day[date(2016, 1, 15)]) == []


def test_the_checklist_cites_the_principle_on_the_entries_it_sized() -> None:
    feed = Feed()
    _losers(feed, "S-mom", date(2016, 1, 6), 6)
    feed.trade(date(2016, 1, 14), "S-mom", 5.0, opened=date(2016, 1, 12))
    feed.trade(date(2016, 1, 14), "S-rev", 5.0, opened=date(2016, 1, 12))
    cycle = ReflectionCycle(SESSIONS, FAMILIES, BEAR)
    run = Run(cycle, feed, FAMILIES, BEAR).days(_between(date(2016, 1, 4), date(2016, 1, 15)))
    (change,) = _principles(run.output())
    sized = {e["strategy_id"]: e for e in run.entries if e["as_of"] == date(2016, 1, 12)}
    assert sized["S-mom"]["weight_combined"] == 0.04
    assert json.loads(sized["S-mom"]["changes_applied"]) == [change["change_id"]]
    assert sized["S-rev"]["weight_combined"] == 0.08
    assert cycle.applied == {sized["S-mom"]["decision_id"]: [change["change_id"]]}


def test_five_losing_trades_make_no_principle() -> None:
    feed = Feed()
    _losers(feed, "S-mom", date(2016, 1, 6), 5)
    run = Run(ReflectionCycle(SESSIONS, FAMILIES, BEAR), feed, FAMILIES, BEAR)
    assert _principles(run.days(_between(date(2016, 1, 4), date(2016, 1, 15))).output()) == []


def test_a_principle_is_withdrawn_when_its_cell_turns() -> None:
    feed = Feed()
    _losers(feed, "S-mom", date(2016, 1, 6), 6)
    for i in range(7):
        feed.trade(date(2016, 1, 20), "S-mom", 5.0, symbol=f"W{i}")
    cycle = ReflectionCycle(SESSIONS, FAMILIES, BEAR)
    run = Run(cycle, feed, FAMILIES, BEAR).days(_between(date(2016, 1, 4), date(2016, 1, 29)))
    made, withdrawn = _principles(run.output())
    assert withdrawn["as_of"] == date(2016, 1, 22)
    assert withdrawn["effective_from"] == date(2016, 1, 25)
    assert withdrawn["new_value"] is None and withdrawn["old_value"] == made["new_value"]
    assert withdrawn["evidence"].startswith("Withdrawn: the evidence turned. 13 momentum")
    assert cycle.policy_for(date(2016, 1, 22)).principles != {}
    assert cycle.policy_for(date(2016, 1, 25)).principles == {}


def test_at_most_three_principles_a_week_the_largest_first() -> None:
    feed = Feed()
    for strategy, pnl in (("S-mom", -10.0), ("S-rev", -40.0), ("S-brk", -30.0),
                          ("S-trd", -20.0)):
        _losers(feed, strategy, date(2016, 1, 6), 6, pnl)
    run = Run(ReflectionCycle(SESSIONS, FAMILIES, BEAR), feed, FAMILIES, BEAR)
    run.days(_between(date(2016, 1, 4), date(2016, 1, 15)))
    first = _principles(run.by_day[date(2016, 1, 8)])
    assert [c["target"] for c in first] == ["mean_reversion in bear", "breakout in bear",
                                            "trend in bear"]
    # the fourth waits for the next week
    assert [c["target"] for c in _principles(run.by_day[date(2016, 1, 15)])] == [
        "momentum in bear"]


def test_a_review_never_reads_a_trade_dated_after_its_day() -> None:
    def week(with_future: bool) -> ReflectionOutput:
        feed = Feed()
        _losers(feed, "S-mom", date(2016, 1, 6), 6)
        if with_future:
            # trades closing next week, fed early: another losing cell, and winners that
            # would turn the momentum cell
            for i in range(6):
                feed.trade(date(2016, 1, 12), "S-rev", -50.0, symbol=f"F{i}",
                           observed=date(2016, 1, 8))
            for i in range(10):
                feed.trade(date(2016, 1, 13), "S-mom", 80.0, symbol=f"G{i}",
                           observed=date(2016, 1, 8))
        run = Run(ReflectionCycle(SESSIONS, FAMILIES, BEAR), feed, FAMILIES, BEAR)
        return run.days(_between(date(2016, 1, 4), date(2016, 1, 8))).by_day[date(2016, 1, 8)]

    clean, early = week(False), week(True)
    assert [c["target"] for c in _principles(clean)] == ["momentum in bear"]
    assert early.changes == clean.changes and early.plans == clean.plans
    assert early.proposals == clean.proposals


@pytest.mark.parametrize("gap", [date(2016, 1, 8), date(2016, 1, 29), date(2015, 12, 31)])
def test_a_period_whose_last_session_had_no_data_is_reviewed_the_next_day(gap: date) -> None:
    """The review runs as of the last day seen, exactly as if the gap were no session."""
    def feed() -> Feed:
        f = Feed()
        _losers(f, "S-mom", date(2016, 1, 6), 6)
        _losers(f, "S-rev", date(2016, 1, 27), 6)
        _losers(f, "S-brk", date(2015, 12, 29), 6)
        return f

    # the last gap ends a week, a month, a quarter and a year
    days = [d for d in _between(date(2015, 12, 14), date(2016, 2, 5)) if d != gap]
    with_gap = Run(ReflectionCycle(SESSIONS, FAMILIES, BEAR), feed(), FAMILIES, BEAR)
    with_gap.days(days)
    without = Run(ReflectionCycle([d for d in SESSIONS if d != gap], FAMILIES, BEAR), feed(),
                  FAMILIES, BEAR)
    without.days(days)
    seen, after = max(d for d in days if d < gap), min(d for d in days if d > gap)
    # the gap's week was reviewed before the next session, not at the close before the gap
    assert with_gap.by_day[seen].changes == [] and with_gap.by_day[seen].plans == []
    caught = with_gap.by_day[after]
    assert caught.plans and {p["as_of"] for p in caught.plans} == {seen}
    assert {c["effective_from"] for c in caught.changes} == {after}
    assert {c["as_of"] for c in caught.changes} == {seen}
    assert with_gap.output().changes == without.output().changes
    assert with_gap.output().plans == without.output().plans
    assert [with_gap.policies[d] for d in days] == [without.policies[d] for d in days]


def test_without_applying_the_changes_are_recorded_but_the_base_policy_trades() -> None:
    def run(apply: bool) -> Run:
        feed = Feed()
        _losers(feed, "S-mom", date(2016, 1, 6), 6)
        feed.trade(date(2016, 1, 14), "S-mom", 5.0, opened=date(2016, 1, 12))
        return Run(ReflectionCycle(SESSIONS, FAMILIES, BEAR, apply=apply), feed, FAMILIES,
                   BEAR).days(_between(date(2016, 1, 4), date(2016, 1, 15)))

    applied, ablated = run(True), run(False)
    assert ablated.output().changes == applied.output().changes
    assert len(_principles(ablated.output())) == 1
    day = date(2016, 1, 12)
    assert ablated.cycle.policy_for(day) == BASE_POLICY
    assert ablated.cycle.recorded_policy(day) == applied.cycle.policy_for(day) != BASE_POLICY
    (entry,) = [e for e in ablated.entries if e["as_of"] == day]
    assert entry["weight_combined"] == 0.08 and entry["changes_applied"] == "[]"


def test_a_month_with_no_account_rows_allocates_equal_shares() -> None:
    feed = Feed()
    for i, day in enumerate(_between(date(2016, 1, 11), date(2016, 1, 15))):
        feed.trade(day, "S-brk", 10.0, symbol=f"U{i}")
        feed.trade(day, "S-trd", -10.0, symbol=f"D{i}")
    run = Run(ReflectionCycle(SESSIONS, FAMILIES, BEAR), feed, FAMILIES, BEAR)
    run.days(_between(date(2016, 1, 4), date(2016, 1, 29)))
    (change,) = [c for c in run.output().changes if c["kind"] == ALLOCATION]
    # an equal share each (x1, no change for S-brk), halved for a negative mean trade
    assert (change["target"], change["new_value"], change["as_of"]) == \
        ("S-trd", "0.5", date(2016, 1, 29))
    assert change["evidence"].startswith("Equal weights over 2 strategies")


# -- a resumed cycle -----------------------------------------------------------------------

REGIMES = {d: ("bear", "bear", "range", "bull", "bull", "range")[min(d.month, 6) - 1]
           if d.year == 2016 else "range" for d in SESSIONS}
FIRST, LAST = date(2016, 1, 4), date(2016, 5, 31)


def _busy_feed() -> Feed:
    """Four months of trades in five strategies (one that keeps losing) and an equity
    path with a drawdown, deterministic."""
    rng = np.random.default_rng(11)
    feed = Feed()
    edge = {"S-mom": 2.0, "S-rev": -1.0, "S-brk": 4.0, "S-trd": 0.5, "S-bad": -9.0}
    equity, peak = 100_000.0, 100_000.0
    for i, day in enumerate(_between(FIRST, LAST)):
        for strategy, mean in edge.items():
            if rng.random() < 0.45:
                holding = int(rng.integers(1, 12))
                feed.trade(day, strategy, round(float(rng.normal(mean, 12.0)), 2),
                           holding=holding, symbol=f"{strategy}-{i}")
        daily = float(rng.normal(-0.002 if day.month == 2 else 0.001, 0.01))
        equity *= 1 + daily
        peak = max(peak, equity)
        feed.account(day, round(equity, 2), round(equity * float(rng.uniform(0.2, 0.9)), 2),
                     daily, equity / peak - 1)
    return feed


def _role_weights(regime: str) -> tuple[float, int]:
    return {"bull": (0.7, 14), "bear": (0.35, 12)}.get(regime, (0.5, 3))


def _busy_cycle() -> ReflectionCycle:
    return ReflectionCycle(SESSIONS, FAMILIES, REGIMES, role_weights=_role_weights)


def _restored(prefix: Run, last_day: date) -> ReflectionCycle:
    """A new cycle from the rows ``prefix`` left, as the stored tables hold them."""
    done = prefix.output()
    seen = [day for day in prefix.by_day if day <= last_day]
    trades = pd.DataFrame([t for day in seen for t in prefix.feed.trades.get(day, [])],
                          columns=TRADE_COLUMNS)
    accounts = pd.DataFrame([a for day in seen for a in prefix.feed.accounts.get(day, [])])
    entries = pd.DataFrame([{k: e[k] for k in ("as_of", "decision_id", "strategy_id",
                                               "weight_combined", "changes_applied")}
                            for e in prefix.entries])
    cycle = _busy_cycle()
    cycle.restore(last_day, trades, accounts, entries,
                  changes_from_rows(pd.DataFrame(done.changes)),
                  proposals_from_rows(pd.DataFrame(done.proposals)), plans_frame(done.plans))
    return cycle


@pytest.mark.parametrize(("start", "split"), [
    (FIRST, date(2016, 2, 17)), (FIRST, date(2016, 1, 29)), (FIRST, date(2016, 3, 31)),
    # a run that began on a month's last session: that day's initial and scheduled plans
    # share their day, and the restored cycle must hold the scheduled one
    (date(2016, 1, 29), date(2016, 1, 29))])
def test_a_cycle_restored_from_its_rows_continues_as_the_uninterrupted_one(
        start: date, split: date) -> None:
    days = _between(start, LAST)
    whole = Run(_busy_cycle(), _busy_feed(), FAMILIES, REGIMES).days(days)
    made = whole.output()
    # the scenario exercises every horizon
    kinds = {c["kind"] for c in made.changes}
    assert {PRINCIPLE, PARAMETER, ALLOCATION, "role_weight"} <= kinds
    assert {p["horizon"] for p in made.plans} == {"weekly", "monthly", "quarterly"}
    assert made.proposals
    prefix = Run(_busy_cycle(), _busy_feed(), FAMILIES, REGIMES).days(
        [d for d in days if d <= split])
    assert prefix.output().changes == whole.output(last=split).changes
    assert prefix.output().plans == whole.output(last=split).plans
    resumed = Run(_restored(prefix, split), _busy_feed(), FAMILIES, REGIMES)
    resumed.days([d for d in days if d > split])
    after = split + timedelta(days=1)
    assert resumed.output().changes == whole.output(first=after).changes
    assert resumed.output().plans == whole.output(first=after).plans
    assert resumed.output().proposals == whole.output(first=after).proposals
    assert [resumed.policies[d] for d in days if d > split] == \
        [whole.policies[d] for d in days if d > split]
    assert resumed.entries == [e for e in whole.entries if e["as_of"] > split]


# -- monthly parameters --------------------------------------------------------------------

def test_parameters_stay_in_their_bounds_after_many_months_of_over_trading() -> None:
    """Trades growing by 60% a month, losers held five times as long as winners and a
    drawdown from the quarter's peak far beyond tolerance, every month of a year."""
    feed = Feed()
    year = _between(date(2016, 1, 4), date(2016, 12, 30))
    for m in range(12):
        month = [d for d in year if d.month == m + 1]
        for i in range(round(2 * 1.6 ** m)):
            losing = i % 2 == 0
            feed.trade(month[i % len(month)], "S-mom", -10.0 if losing else 12.0,
                       holding=20 if losing else 4, symbol=f"M{m}-{i}")
    equity = 100_000.0
    for day in year:  # a steady loss: every month ends far below its quarter's peak
        equity *= 0.995
        feed.account(day, round(equity, 2), round(equity / 2, 2), -0.005,
                     equity / 100_000.0 - 1)
    cycle = ReflectionCycle(SESSIONS, FAMILIES, BEAR)
    run = Run(cycle, feed, FAMILIES, BEAR).days(year)
    moves: dict[str, list[float]] = {}
    for change in run.output().changes:
        if change["kind"] == PARAMETER:
            moves.setdefault(change["target"], []).append(json.loads(change["new_value"]))
    for name, values in moves.items():
        low, high = PARAMETER_BOUNDS[name]
        assert all(low <= v <= high for v in values), (name, values)
    assert moves["min_confidence"] == [0.5, 0.55, 0.6, 0.65]
    assert moves["max_risk_per_trade"] == [0.04, 0.03, 0.02, 0.01]
    assert moves["exposure_scale"] == [0.9, 0.8, 0.7, 0.6, 0.5]
    final = cycle.policy_for(date(2017, 1, 3)).parameters
    assert final["min_confidence"] == 0.65 and final["max_risk_per_trade"] == 0.01
    assert final["exposure_scale"] == 0.5


# -- quarterly proposals -------------------------------------------------------------------

def _retire_feed() -> Feed:
    feed = Feed()
    for i, day in enumerate(_between(date(2016, 2, 1), date(2016, 6, 20))[::4]):
        feed.trade(day, "S-bad", -30.0, symbol=f"B{i}")
    return feed


def _q1_retirement() -> FrameworkProposal:
    return FrameworkProposal(date(2016, 3, 31), "quarterly review 2016-Q1", "", "", ALLOCATION,
                             "S-bad", 0.0, date(2016, 4, 28))


def _decided(action: str) -> list[HumanDecision]:
    return [HumanDecision(_q1_retirement().proposal_id, action, date(2016, 4, 4), "because",
                          "alice", datetime(2016, 4, 1, 12))]


def _retirements(human: Sequence[HumanDecision] = (),
                 setup: Callable[[], None] = lambda: None) -> list[dict]:
    setup()
    run = Run(ReflectionCycle(SESSIONS, FAMILIES, BEAR, human=human), _retire_feed(),
              FAMILIES, BEAR).days(_between(date(2016, 1, 4), date(2016, 7, 8)))
    return [p for p in run.output().proposals if p["target"] == "S-bad"]


def test_a_pending_proposal_is_not_made_again(monkeypatch: pytest.MonkeyPatch) -> None:
    # proposals that wait long enough to still be pending at the next quarter's review
    monkeypatch.setattr(cycles, "PROPOSAL_LIFETIME", timedelta(days=120))
    (proposal,) = _retirements()
    assert proposal["proposal_id"] == _q1_retirement().proposal_id
    assert proposal["title"] == "Retire S-bad from the allocation"
    assert proposal["expires_on"] == date(2016, 7, 29)
    # rejected: the next quarter may propose it again
    assert [p["review"] for p in _retirements(_decided(REJECT))] == [
        "quarterly review 2016-Q1", "quarterly review 2016-Q2"]


def test_an_expired_proposal_is_made_again_and_an_approved_one_is_applied() -> None:
    assert [p["review"] for p in _retirements()] == ["quarterly review 2016-Q1",
                                                      "quarterly review 2016-Q2"]
    feed, human = _retire_feed(), _decided(APPROVE)
    cycle = ReflectionCycle(SESSIONS, FAMILIES, BEAR, human=human)
    run = Run(cycle, feed, FAMILIES, BEAR).days(_between(date(2016, 1, 4), date(2016, 7, 8)))
    assert [p["review"] for p in run.output().proposals if p["target"] == "S-bad"] == [
        "quarterly review 2016-Q1"]
    (approved,) = [c for c in run.output().changes if c["review"].startswith("approval")]
    assert approved["effective_from"] == date(2016, 4, 4) and approved["new_value"] == "0.0"
    assert cycle.policy_for(date(2016, 4, 1)).allocation.get("S-bad") is None
    assert cycle.policy_for(date(2016, 4, 4)).allocation["S-bad"] == 0.0


def test_a_run_resumed_after_a_caught_up_review_does_not_review_again() -> None:
    """The month's last session has no data: its review runs the next morning, dated by
    the last day seen. A run resumed at that morning's month, holding the stored rows,
    must not make that review again (its plan's id is stored already)."""
    gap, seen, resume = date(2016, 2, 29), date(2016, 2, 26), date(2016, 3, 1)
    days = [d for d in _between(FIRST, LAST) if d != gap]
    whole = Run(_busy_cycle(), _busy_feed(), FAMILIES, REGIMES).days(days)
    made = whole.output()
    assert any(p["as_of"] == seen and p["horizon"] == "monthly" and p["reason"] == "scheduled"
               for p in whole.by_day[resume].plans)
    feed = whole.feed
    before = [d for d in days if d < resume]
    cycle = _busy_cycle()
    cycle.restore(
        seen,
        pd.DataFrame([t for d in before for t in feed.trades.get(d, [])],
                     columns=TRADE_COLUMNS),
        pd.DataFrame([a for d in before for a in feed.accounts.get(d, [])]),
        pd.DataFrame([{k: e[k] for k in ("as_of", "decision_id", "strategy_id",
                                          "weight_combined", "changes_applied")}
                      for e in whole.entries if e["as_of"] < resume]),
        changes_from_rows(pd.DataFrame([c for c in made.changes if c["as_of"] < resume])),
        proposals_from_rows(pd.DataFrame([p for p in made.proposals if p["as_of"] < resume],
                                         columns=PROPOSAL_COLUMNS)),
        plans_frame([p for p in made.plans if p["as_of"] < resume]))
    resumed = Run(cycle, _busy_feed(), FAMILIES, REGIMES).days(
        [d for d in days if d >= resume])
    again = resumed.output()
    assert all(row["as_of"] >= resume for row in again.changes + again.plans)
    assert again.changes == [c for c in made.changes if c["as_of"] >= resume]
    assert again.plans == [p for p in made.plans if p["as_of"] >= resume]


def test_exposure_cut_in_a_losing_quarter_is_restored_once_the_next_quarter_holds() -> None:
    """The drawdown budget is the quarter's: after a quarter that lost 12%, a flat
    quarter (still 12% below the account's all-time peak) restores exposure step by
    step instead of keeping it cut until the old peak is regained."""
    feed = Feed()
    days = _between(date(2016, 1, 4), date(2016, 9, 30))
    equity = 100_000.0
    for day in days:
        if day.month <= 3:
            equity *= 0.998
        feed.account(day, round(equity, 2), round(equity / 2, 2), 0.0,
                     equity / 100_000.0 - 1)
    run = Run(ReflectionCycle(SESSIONS, FAMILIES, BEAR), feed, FAMILIES, BEAR).days(days)
    scale = [(c["as_of"], json.loads(c["new_value"])) for c in run.output().changes
             if c["target"] == "exposure_scale"]
    cut = [v for d, v in scale if d.month <= 3]
    assert cut == sorted(cut, reverse=True) and cut[-1] <= 0.8   # Q1: cut month by month
    restored = [v for d, v in scale if 3 < d.month <= 6]
    assert restored == sorted(restored) and restored[-1] == 1.0   # Q2: restored
