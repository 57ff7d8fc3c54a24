"""Reflection and planning at four horizons, inside the day loop: after the close of the
last session of a week, a month or a quarter, its review reads what the ledger holds to
that close and makes the next period's plan and its changes, each effective from the next
session. The changes are the only way a review alters behaviour (``changes.py``); the
daily loop folds them into the policy it trades under (``policy_for``).

- Weekly: best and worst strategies, up to three principles (a family in a regime sized
  down or up) from the trailing quarter's trades, withdrawn when their evidence turns;
  the plan's deviation check (a new monthly or quarterly plan, with its reason, when
  execution is more than 30% off); the next week's plan (candidates, risk events).
- Monthly: the bias diagnosis and the drawdown against the quarter's tolerance move risk
  parameters within hard bounds; the judge's role weights per regime; the next month's
  allocation across strategies (an inverse-volatility risk budget, skfolio).
- Quarterly: the next quarter's return target and drawdown tolerance from the regime and
  the record; a meta-review whose proposals wait for a human.

Everything is a function of the data to the review's close, the calendar and the humans'
recorded decisions, so replays are deterministic and a run resumed at any month equals
the uninterrupted one (the state is rebuilt from the stored rows).
"""

from __future__ import annotations

import bisect
import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd

from trade_pipelines.agent.ids import stable_id
from trade_pipelines.agent.perception.events import EVENT_HORIZON
from trade_pipelines.agent.planning.daily_plan import DEFENSIVE_EXPOSURE, EXPOSURE_BY_REGIME
from trade_pipelines.agent.reflection.biases import (
    LOSS_AVERSION,
    OVER_TRADING,
    diagnose_biases,
)
from trade_pipelines.agent.reflection.changes import (
    ALLOCATION,
    APPROVE,
    BASE_POLICY,
    FRAMEWORK,
    MONTHLY,
    PARAMETER,
    PARAMETER_DEFAULTS,
    PRINCIPLE,
    QUARTERLY,
    ROLE_WEIGHT,
    WEEKLY,
    Change,
    FrameworkProposal,
    HumanDecision,
    Policy,
    approved_change,
    bounded,
    fold,
    period_of,
    proposal_status,
    review_label,
    rolled_back,
)

PLAN_COLUMNS = ["plan_id", "as_of", "horizon", "period", "reason", "regime", "targets",
                "tasks"]
TRADE_KEYS = ["as_of", "trade_id", "account", "symbol", "strategy_id", "opened_as_of",
              "pnl", "return_pct", "holding_days", "entry_price", "exit_price",
              "decision_id"]

# Principles: a (family, regime) cell of the trailing quarter's trades with this many
# trades, this win rate or worse (better) and a mean on the same side.
PRINCIPLE_WINDOW = timedelta(days=91)
PRINCIPLE_MIN_TRADES = 6
PRINCIPLE_LOSING = 0.35
PRINCIPLE_WINNING = 0.65
PRINCIPLE_SIZE_DOWN = 0.5
PRINCIPLE_SIZE_UP = 1.25
MAX_PRINCIPLES_A_WEEK = 3
# Execution more than this far off the plan makes a new plan.
PLAN_DEVIATION = 0.30
MIN_SESSIONS_FOR_DEVIATION = 5
UTILISATION_WINDOW = timedelta(days=91)
MIN_UTILISATION_SESSIONS = 20
# Quarterly targets by regime: (return target, drawdown tolerance).
QUARTER_TARGETS = {"bull": (0.04, 0.08), "range": (0.02, 0.06), "bear": (0.005, 0.04)}
STANCES = {"bull": "offensive", "range": "neutral", "bear": "defensive"}
# The monthly allocation: strategies with this many trades in the trailing half year.
ALLOCATION_WINDOW = timedelta(days=182)
ALLOCATION_MIN_TRADES = 5
ALLOCATION_MIN_MOVE = 0.10
ROLE_WEIGHT_MIN_OUTCOMES = 10
STEP = {"exposure_scale": 0.10, "min_confidence": 0.05, "max_risk_per_trade": 0.01}
# Proposals expire unapproved after this many calendar days.
PROPOSAL_LIFETIME = timedelta(days=28)
RETIRE_MIN_TRADES = 8
RETIRE_WIN_RATE = 0.40
PRINCIPLE_IMPACT_MIN_TRADES = 10
PRINCIPLE_METRIC = "win rate and mean return of matching trades"
ACCOUNT_METRIC = "combined account's mean daily return"


@dataclass
class ReflectionOutput:
    changes: list[dict] = field(default_factory=list)
    plans: list[dict] = field(default_factory=list)
    proposals: list[dict] = field(default_factory=list)

    def extend(self, other: ReflectionOutput) -> None:
        self.changes.extend(other.changes)
        self.plans.extend(other.plans)
        self.proposals.extend(other.proposals)


_FIRST = (date.min, date.min, "")


def _quarter_start(day: date) -> date:
    return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def _as_date(value: Any) -> date:
    return value if type(value) is date else pd.Timestamp(value).date()


def _order(change: Change) -> tuple[tuple[date, date, str], Change]:
    """A change with the key ``fold`` orders it by."""
    return (change.effective_from, change.as_of, change.change_id), change


@dataclass
class _FoldCache:
    day: date
    excluded: set[str]
    ids: set[str]
    last: tuple[date, date, str]
    policy: Policy


def _round(value: float, step: float = 0.05) -> float:
    return round(round(value / step) * step, 4)


def _pct(value: float) -> str:
    return f"{value:+.2%}" if math.isfinite(value) else "n/a"


class ReflectionCycle:
    """The reviews and plans of the weekly, monthly and quarterly horizons, and the policy
    they leave for each session. ``apply`` False: the reviews report and record their
    changes, but the agent trades under the base policy (the ``no_reflection``
    ablation)."""

    def __init__(self, sessions: Sequence[date], families: Mapping[str, str],
                 regime_by_day: Mapping[date, str], events: pd.DataFrame | None = None,
                 human: Sequence[HumanDecision] = (), apply: bool = True,
                 role_weights: Callable[[str], tuple[float, int]] | None = None,
                 defensive_by_day: Mapping[date, bool] | None = None) -> None:
        self.sessions = sorted(sessions)
        self.families = dict(families)
        self.regime_by_day = regime_by_day
        self.defensive_by_day = defensive_by_day or {}
        self.events = events.assign(
            _day=[_as_date(d) for d in events["as_of"]],
            _known=[_as_date(d) for d in events["known_from"]]) \
            if events is not None and not events.empty else None
        self.human = list(human)
        self.apply = apply
        # regime -> (the aggressive role's weight, outcomes behind it)
        self.role_weights = role_weights
        self.changes: list[Change] = []
        self.proposals: list[FrameworkProposal] = []
        self.plans: dict[str, dict] = {}
        self.trades: list[dict] = []      # the combined account's, in exit-day order
        self.accounts: list[dict] = []    # the combined account's days, in order
        self._frames: dict[str, tuple[int, pd.DataFrame, list[date]]] = {}
        # decision id -> the changes its checklist applied
        self.applied: dict[str, list[str]] = {}
        self.last_day: date | None = None
        self._reviewed: dict[str, str | None] = {h: None for h in (WEEKLY, MONTHLY,
                                                                     QUARTERLY)}
        self._policy_cache: _FoldCache | None = None

    # -- state from stored rows (a resumed run) ---------------------------------------------
    def restore(self, last_day: date | None, trades: pd.DataFrame, accounts: pd.DataFrame,
                entries: pd.DataFrame, changes: Iterable[Change],
                proposals: Iterable[FrameworkProposal], plans: pd.DataFrame) -> None:
        """The state an uninterrupted run had after ``last_day``'s close: the combined
        account's trades and days, the entries, the changes, proposals and latest plans."""
        self.last_day = last_day
        if not trades.empty:
            self.trades = [r for r in trades.to_dict("records") if r["account"] == "combined"]
        if not accounts.empty:
            self.accounts = [r for r in accounts.to_dict("records")
                             if r["account"] == "combined"]
        self.applied = {e["decision_id"]: json.loads(e["changes_applied"])
                        for e in entries.to_dict("records")
                        if e["changes_applied"] not in (None, "", "[]")} \
            if not entries.empty else {}
        self.changes = list(changes)
        self.proposals = list(proposals)
        # the latest plan of each horizon; one day's plans in the order they are made:
        # the initial one (before the session), the scheduled one, then a replan (only a
        # catch-up's weekly review replans on the day of a scheduled plan)
        made = plans.assign(_made=[0 if str(r).startswith("initial") else
                                   1 if r == "scheduled" else 2 for r in plans["reason"]]) \
            if not plans.empty else plans
        for plan in made.sort_values(["as_of", "_made", "plan_id"]).to_dict("records") \
                if not plans.empty else []:
            plan.pop("_made")
            self.plans[plan["horizon"]] = plan
        # A period is reviewed when its review's plan is stored (a review caught up the
        # morning after a gap is dated by the last day seen, not by the calendar).
        for horizon, plan in self._scheduled(plans).items():
            self._reviewed[horizon] = period_of(horizon, _as_date(plan["as_of"]))

    @staticmethod
    def _scheduled(plans: pd.DataFrame) -> dict[str, dict]:
        """The latest review's plan of each horizon among stored plan rows."""
        latest: dict[str, dict] = {}
        if plans.empty:
            return latest
        for plan in plans[plans["reason"] == "scheduled"].to_dict("records"):
            held = latest.get(plan["horizon"])
            if held is None or _as_date(plan["as_of"]) >= _as_date(held["as_of"]):
                latest[plan["horizon"]] = plan
        return latest

    # -- the calendar -------------------------------------------------------------------
    def next_session(self, day: date) -> date:
        i = bisect.bisect_right(self.sessions, day)
        return self.sessions[i] if i < len(self.sessions) else day + timedelta(days=1)

    def _is_last_session(self, day: date, horizon: str) -> bool:
        return period_of(horizon, self.next_session(day)) != period_of(horizon, day)

    # -- the policy ---------------------------------------------------------------------
    def recorded_policy(self, day: date) -> Policy:
        """The policy the reviews' changes make for ``day`` (applied or not).

        Folded incrementally: the loop asks for its days in order and new changes take
        effect after everything already folded, so only the new ones are applied; any
        other question (an earlier day, a rollback taking effect) folds from scratch."""
        excluded = rolled_back(self.human, day)
        cache = self._policy_cache
        if cache is not None and cache.excluded == excluded and day >= cache.day:
            pending = sorted((_order(c) for c in self.changes
                              if c.change_id not in cache.ids and c.effective_from <= day),
                             key=lambda item: item[0])
            if not pending or pending[0][0] > cache.last:
                policy = cache.policy
                for key, change in pending:
                    if change.change_id not in excluded:
                        policy = policy.with_change(change)
                    cache.ids.add(change.change_id)
                    cache.last = key
                cache.policy, cache.day = policy, day
                return policy
        policy = fold(self.changes, day, excluded)
        folded = [_order(c) for c in self.changes if c.effective_from <= day]
        self._policy_cache = _FoldCache(day, excluded, {c.change_id for _, c in folded},
                                        max((k for k, _ in folded), default=_FIRST), policy)
        return policy

    def policy_for(self, day: date) -> Policy:
        """What the agent trades under on ``day``."""
        return self.recorded_policy(day) if self.apply else BASE_POLICY

    # -- the day --------------------------------------------------------------------------
    def before_day(self, day: date) -> ReflectionOutput:
        """Reviews of periods that ended on a session with no data (caught up now), the
        first plans, and the changes approved proposals make from today."""
        out = ReflectionOutput()
        if self.last_day is not None:
            for horizon in (WEEKLY, MONTHLY, QUARTERLY):
                ended = period_of(horizon, self.last_day)
                if ended != period_of(horizon, day) and self._reviewed[horizon] != ended:
                    out.extend(self._review(horizon, self.last_day, day))
        for horizon in (QUARTERLY, MONTHLY, WEEKLY):
            if horizon not in self.plans:
                out.plans.append(self._plan(horizon, day, day, "initial: no plan before"))
        made = {c.change_id for c in self.changes}
        for proposal in self.proposals:
            status, approval = proposal_status(proposal, self.human, day)
            if status != "approved" or approval is None or approval.action != APPROVE \
                    or approval.effective_from > day:
                continue
            old = self.recorded_policy(day).value_of(proposal.kind, proposal.target)
            change = approved_change(proposal, approval, old)
            if change.change_id not in made:
                change = Change(day, change.kind, change.target, old, change.new_value,
                                change.evidence, change.review, approval.effective_from,
                                change.metric)
                self.changes.append(change)
                out.changes.append(change.row())
        return out

    def observe(self, day: date, decisions: Sequence[Mapping[str, Any]],
                closed: Sequence[Mapping[str, Any]],
                accounts: Sequence[Mapping[str, Any]]) -> None:
        self.applied.update((d["decision_id"], json.loads(d["changes_applied"]))
                            for d in decisions if d.get("changes_applied", "[]") != "[]")
        self.trades.extend({k: t[k] for k in TRADE_KEYS} for t in closed
                           if t["account"] == "combined")
        self.accounts.extend(dict(a) for a in accounts if a["account"] == "combined")

    def after_day(self, day: date) -> ReflectionOutput:
        """The reviews of every period whose last session ``day`` is."""
        self.last_day = day
        out = ReflectionOutput()
        for horizon in (WEEKLY, MONTHLY, QUARTERLY):
            if self._is_last_session(day, horizon):
                out.extend(self._review(horizon, day, self.next_session(day)))
        return out

    def _review(self, horizon: str, day: date, effective: date) -> ReflectionOutput:
        self._reviewed[horizon] = period_of(horizon, day)
        review = {WEEKLY: self._weekly, MONTHLY: self._monthly, QUARTERLY: self._quarterly}
        return review[horizon](day, effective)

    # -- helpers --------------------------------------------------------------------------
    def _rows(self, name: str, first: date | None, last: date) -> pd.DataFrame:
        """The rows of ``self.<name>`` dated in [first, last] (both lists are in date
        order), from a frame rebuilt only when rows were added."""
        rows = getattr(self, name)
        cached = self._frames.get(name)
        if cached is None or cached[0] != len(rows):
            frame = pd.DataFrame(rows, columns=TRADE_KEYS if name == "trades" else None)
            cached = (len(rows), frame, [_as_date(r["as_of"]) for r in rows])
            self._frames[name] = cached
        _, frame, days = cached
        start = 0 if first is None else bisect.bisect_left(days, first)
        return frame.iloc[start:bisect.bisect_right(days, last)]

    def _trades(self, first: date | None, last: date) -> pd.DataFrame:
        return self._rows("trades", first, last)

    def _equity(self, first: date, last: date) -> pd.DataFrame:
        return self._rows("accounts", first, last)

    def _events_ahead(self, day: date, last: date) -> pd.DataFrame:
        """The events known by ``day``'s close that fall after it, up to ``last``."""
        if self.events is None:
            return pd.DataFrame()
        events = self.events
        return events[(events["_known"] <= day) & (events["_day"] > day)
                      & (events["_day"] <= last)]

    def _change(self, out: ReflectionOutput, day: date, effective: date, review: str,
                kind: str, target: str, new_value: Any, evidence: str) -> None:
        old = self.recorded_policy(effective).value_of(kind, target)
        if old == new_value:
            return
        # One change to a target per close: two made the same evening (a replan's and a
        # review's) would take effect together, and their order would be the ids'.
        for made in reversed(self.changes):
            if made.as_of != day:
                break
            if made.kind == kind and made.target == target:
                return
        change = Change(day, kind, target, old, new_value, evidence, review, effective,
                        PRINCIPLE_METRIC if kind == PRINCIPLE else ACCOUNT_METRIC)
        self.changes.append(change)
        out.changes.append(change.row())

    def _plan_row(self, horizon: str, day: date, period_day: date, reason: str,
                  targets: Mapping[str, Any], tasks: list[str]) -> dict:
        period = period_of(horizon, period_day)
        row = {"plan_id": stable_id("HP", horizon, period, day, reason), "as_of": day,
               "horizon": horizon, "period": period, "reason": reason,
               "regime": str(self.regime_by_day.get(day, "unknown")),
               "targets": json.dumps(targets, sort_keys=True), "tasks": json.dumps(tasks)}
        self.plans[horizon] = row
        return row

    def _plan(self, horizon: str, day: date, period_day: date, reason: str) -> dict:
        make = {QUARTERLY: self._quarter_plan, MONTHLY: self._month_plan,
                WEEKLY: self._week_plan}[horizon]
        return make(day, period_day, reason)

    def _targets(self, horizon: str) -> dict[str, Any]:
        plan = self.plans.get(horizon)
        return json.loads(plan["targets"]) if plan is not None else {}

    # -- weekly ---------------------------------------------------------------------------
    def _weekly(self, day: date, effective: date) -> ReflectionOutput:
        out = ReflectionOutput()
        review = review_label(WEEKLY, day)
        policy = self.recorded_policy(effective)
        if policy.framework.get("principles_enabled", True):
            self._principles(out, day, effective, review, policy)
        self._deviation_checks(out, day, effective)
        out.plans.append(self._week_plan(day, effective, "scheduled"))
        return out

    def _cells(self, day: date) -> dict[tuple[str, str], pd.DataFrame]:
        trades = self._trades(day - PRINCIPLE_WINDOW, day)
        if trades.empty:
            return {}
        trades = trades.assign(
            family=[self.families.get(s, "unknown") for s in trades["strategy_id"]],
            regime=[self.regime_by_day.get(_as_date(d), "unknown")
                    for d in trades["opened_as_of"]])
        return {key: frame for key, frame in trades.groupby(["family", "regime"], sort=True)}

    def _principles(self, out: ReflectionOutput, day: date, effective: date, review: str,
                    policy: Policy) -> None:
        candidates: list[tuple[float, str, Any, str]] = []
        cells = self._cells(day)
        for (family, regime), frame in cells.items():
            n = len(frame)
            if n < PRINCIPLE_MIN_TRADES:
                continue
            win = float((frame["pnl"] > 0).mean())
            mean = float(frame["return_pct"].mean())
            target = f"{family} in {regime}"
            evidence = (f"{n} {family} trades opened in a {regime} market closed between "
                        f"{day - PRINCIPLE_WINDOW} and {day} (combined account): win rate "
                        f"{win:.0%}, mean return {_pct(mean)}, P&L "
                        f"{frame['pnl'].sum():,.0f}")
            held = policy.principles.get(target)
            if win <= PRINCIPLE_LOSING and mean < 0:
                multiplier, verb = PRINCIPLE_SIZE_DOWN, "halve"
            elif win >= PRINCIPLE_WINNING and mean > 0:
                multiplier, verb = PRINCIPLE_SIZE_UP, "raise by a quarter"
            else:
                multiplier, verb = None, ""
            if multiplier is not None:
                value = {"text": f"In a {regime} market, {verb} the size of {family} "
                                 "trades.", "family": family, "regime": regime,
                         "size_multiplier": multiplier}
                if held is None or held.size_multiplier != multiplier:
                    candidates.append((abs(float(frame["pnl"].sum())), target, value,
                                       evidence))
            elif held is not None and (win >= 0.5) == (held.size_multiplier < 1):
                candidates.append((abs(float(frame["pnl"].sum())), target, None,
                                   "Withdrawn: the evidence turned. " + evidence))
        for _, target, value, evidence in sorted(candidates, key=lambda c: (-c[0], c[1]))[
                :MAX_PRINCIPLES_A_WEEK]:
            self._change(out, day, effective, review, PRINCIPLE, target, value, evidence)

    def _deviation_checks(self, out: ReflectionOutput, day: date, effective: date) -> None:
        """A new monthly plan when the month's exposure is more than 30% off its
        allocation; a new quarterly plan when the drawdown since the quarter began is more
        than 30% beyond its tolerance."""
        month = self.plans.get(MONTHLY)
        if month is not None and period_of(MONTHLY, effective) == month["period"] \
                and month["reason"] in ("scheduled", "initial: no plan before"):
            planned = float(self._targets(MONTHLY).get("exposure", 0.0))
            since = self._equity(_as_date(month["as_of"]) + timedelta(days=1), day)
            if planned > 0 and len(since) >= MIN_SESSIONS_FOR_DEVIATION:
                realised = float((since["gross_exposure"].astype(float)
                                  / since["equity"].astype(float)).mean())
                deviation = abs(realised - planned) / planned
                if deviation > PLAN_DEVIATION:
                    reason = (f"replan: gross exposure averaged {realised:.0%} of equity "
                              f"over {len(since)} sessions against the planned "
                              f"{planned:.0%} ({deviation:.0%} off)")
                    self._allocate(out, day, effective, f"monthly replan {day}")
                    out.plans.append(self._month_plan(day, effective, reason))
        quarter = self.plans.get(QUARTERLY)
        if quarter is not None and period_of(QUARTERLY, effective) == quarter["period"] \
                and not quarter["reason"].startswith("replan"):
            targets = self._targets(QUARTERLY)
            tolerance = float(targets.get("drawdown_tolerance", 0.06))
            start = _quarter_start(day)
            drawdown = self._quarter_drawdown(day)
            if math.isfinite(drawdown) and -drawdown > tolerance * (1 + PLAN_DEVIATION):
                reason = (f"replan: drawdown {-drawdown:.1%} since the quarter began "
                          f"is more than 30% beyond the tolerance {tolerance:.1%}")
                scale = self.recorded_policy(effective).parameters["exposure_scale"]
                self._change(out, day, effective, f"quarterly replan {day}", PARAMETER,
                             "exposure_scale", bounded("exposure_scale", _round(
                                 scale - STEP["exposure_scale"])),
                             f"Drawdown {-drawdown:.1%} since {start} against a "
                             f"tolerance of {tolerance:.1%}: more defence.")
                out.plans.append(self._quarter_plan(
                    day, effective, reason, replan_drawdown=-drawdown))

    def _week_plan(self, day: date, period_day: date, reason: str) -> dict:
        trades = self._trades(day - PRINCIPLE_WINDOW, day)
        ranked: list[tuple[float, str, int]] = []
        if not trades.empty:
            for strategy, frame in trades.groupby("strategy_id", sort=True):
                ranked.append((float(frame["pnl"].sum()), str(strategy), len(frame)))
        ranked.sort(key=lambda r: (-r[0], r[1]))
        week = self._trades(day - timedelta(days=6), day)
        by_strategy = week.groupby("strategy_id")["pnl"].sum().sort_values(
            kind="mergesort") if not week.empty else pd.Series(dtype=float)
        ahead = self._events_ahead(day, day + EVENT_HORIZON)
        events = [f"{e['_day']}: {e['title']} (impact {int(e['impact'])}/10)"
                  for e in ahead.sort_values(["_day", "event_id"]).to_dict("records")] \
            if not ahead.empty else []
        targets = {"candidates": [s for pnl, s, n in ranked[:5] if pnl > 0],
                   "avoid": [s for pnl, s, n in ranked[::-1][:3] if pnl < 0],
                   "best_strategy_of_week": str(by_strategy.index[-1])
                   if len(by_strategy) else None,
                   "worst_strategy_of_week": str(by_strategy.index[0])
                   if len(by_strategy) else None,
                   "risk_events": events}
        quarter = self._targets(QUARTERLY)
        to_date = self._quarter_return(day)
        if quarter and math.isfinite(to_date) and \
                period_of(QUARTERLY, period_day) == period_of(QUARTERLY, day):
            targets["quarter_progress"] = {
                "return_to_date": round(to_date, 4),
                "return_target": quarter.get("return_target"),
                "drawdown_tolerance": quarter.get("drawdown_tolerance")}
        tasks = [f"Favour {s} (trailing quarter P&L {pnl:,.0f} over {n} trades)."
                 for pnl, s, n in ranked[:3] if pnl > 0]
        if "quarter_progress" in targets:
            tasks.append(f"Quarter to date {to_date:+.1%} against a target of "
                         f"{float(quarter['return_target']):.1%}.")
        tasks += [f"Risk event {e}: no new entry in the name the session before."
                  for e in events[:10]]
        return self._plan_row(WEEKLY, day, period_day, reason, targets, tasks or
                              ["No candidate stands out; trade the signals as they come."])

    # -- monthly --------------------------------------------------------------------------
    def _monthly(self, day: date, effective: date) -> ReflectionOutput:
        out = ReflectionOutput()
        review = review_label(MONTHLY, day)
        policy = self.recorded_policy(effective)
        first = date(day.year, day.month, 1)
        if policy.framework.get("parameter_reviews_enabled", True):
            self._parameters(out, day, effective, review, first, policy)
        self._role_weights(out, day, effective, review)
        self._allocate(out, day, effective, review)
        out.plans.append(self._month_plan(day, effective, "scheduled"))
        return out

    def _parameters(self, out: ReflectionOutput, day: date, effective: date, review: str,
                    first: date, policy: Policy) -> None:
        findings = {f.name: f for f in diagnose_biases(self._trades(None, day), first, day)}
        params = policy.parameters

        def move(name: str, delta: float, why: str) -> None:
            value = bounded(name, round(params[name] + delta, 4))
            self._change(out, day, effective, review, PARAMETER, name, value, why)

        over = findings[OVER_TRADING]
        if over.present:
            move("min_confidence", STEP["min_confidence"],
                 f"Over-trading: {over.evidence}. Raise the bar for a trade.")
        elif params["min_confidence"] > PARAMETER_DEFAULTS["min_confidence"] and \
                math.isfinite(over.measure):
            move("min_confidence", -STEP["min_confidence"],
                 f"No over-trading: {over.evidence}. Relax the bar towards its default.")
        loss = findings[LOSS_AVERSION]
        if loss.present:
            move("max_risk_per_trade", -STEP["max_risk_per_trade"],
                 f"Loss aversion: {loss.evidence}. Smaller risk per trade, cheaper to cut.")
        elif params["max_risk_per_trade"] < PARAMETER_DEFAULTS["max_risk_per_trade"] and \
                math.isfinite(loss.measure):
            move("max_risk_per_trade", STEP["max_risk_per_trade"],
                 f"No loss aversion: {loss.evidence}. Restore risk per trade.")
        # The quarter's drawdown budget is spent within the quarter: the drawdown from the
        # quarter's peak, not the account's all-time one (which kept exposure cut for
        # years after a loss, selling low and missing the recovery).
        tolerance = float(self._targets(QUARTERLY).get("drawdown_tolerance", 0.06))
        drawdown = self._quarter_drawdown(day)
        if math.isfinite(drawdown):
            if -drawdown > tolerance:
                move("exposure_scale", -STEP["exposure_scale"],
                     f"Drawdown {-drawdown:.1%} from the quarter's peak is beyond its "
                     f"tolerance {tolerance:.1%}: less exposure.")
            elif params["exposure_scale"] < 1.0:
                move("exposure_scale", min(STEP["exposure_scale"],
                                           1.0 - params["exposure_scale"]),
                     f"Drawdown {-drawdown:.1%} from the quarter's peak is within its "
                     f"tolerance {tolerance:.1%}: restore exposure.")

    def _role_weights(self, out: ReflectionOutput, day: date, effective: date,
                      review: str) -> None:
        if self.role_weights is None:
            return
        for regime in ("bull", "range", "bear"):
            weight, n = self.role_weights(regime)
            if n < ROLE_WEIGHT_MIN_OUTCOMES:
                continue
            multiplier = _round(min(1.5, max(0.5, 2 * weight)))
            current = self.recorded_policy(effective).role_weights.get(regime, 1.0)
            if abs(multiplier - current) >= ALLOCATION_MIN_MOVE:
                self._change(out, day, effective, review, ROLE_WEIGHT, regime, multiplier,
                             f"The aggressive agent was right in {weight:.0%} of {n} "
                             f"closed debated trades in {regime} markets (smoothed): the "
                             f"combined account sizes by {multiplier:.2f} there.")

    def _allocate(self, out: ReflectionOutput, day: date, effective: date,
                  review: str) -> None:
        """A risk budget across the strategies with a record, each strategy's
        multiplier its weight times their number (1: an equal share), halved for a
        negative mean trade. The daily series hold each trade's whole return on its exit
        day: their spread grows with how often a strategy trades, so a strategy that
        trades rarely gets the larger weight (up to the cap), not only a less risky one."""
        trades = self._trades(day - ALLOCATION_WINDOW, day)
        if trades.empty:
            return
        counts = trades.groupby("strategy_id").size()
        strategies = sorted(str(s) for s in counts[counts >= ALLOCATION_MIN_TRADES].index)
        if len(strategies) < 2:
            return
        equity = self._equity(day - ALLOCATION_WINDOW + timedelta(days=1), day)
        days = [_as_date(d) for d in equity["as_of"]] if not equity.empty else []
        returns = pd.DataFrame(0.0, index=days, columns=strategies)
        for t in trades[trades["strategy_id"].isin(strategies)].itertuples():
            exit_day = _as_date(t.as_of)
            if exit_day in returns.index:
                returns.loc[exit_day, t.strategy_id] += float(t.return_pct)
        weights, method = _risk_budget(returns)
        for strategy, weight in zip(strategies, weights, strict=True):
            frame = trades[trades["strategy_id"] == strategy]
            mean = float(frame["return_pct"].mean())
            multiplier = weight * len(strategies) * (0.5 if mean < 0 else 1.0)
            multiplier = _round(min(2.0, max(0.25, multiplier)))
            current = self.recorded_policy(effective).allocation.get(strategy, 1.0)
            if abs(multiplier - current) >= ALLOCATION_MIN_MOVE:
                self._change(out, day, effective, review, ALLOCATION, strategy, multiplier,
                             f"{method} over {len(strategies)} strategies with "
                             f"{ALLOCATION_MIN_TRADES}+ trades since "
                             f"{day - ALLOCATION_WINDOW}: weight {weight:.2f}; {len(frame)} "
                             f"trades, mean return {_pct(mean)}"
                             + (" (negative: halved)" if mean < 0 else "") + ".")

    def _regime_exposure(self, day: date) -> float:
        """The daily plan's exposure target for ``day``'s regime (``daily_plan.py``)."""
        if self.defensive_by_day.get(day, False):
            return DEFENSIVE_EXPOSURE
        return EXPOSURE_BY_REGIME.get(str(self.regime_by_day.get(day, "range")),
                                      EXPOSURE_BY_REGIME["range"])

    def _utilisation(self, day: date) -> float:
        """How much of the regime's exposure target the agent actually held over the last
        quarter (1 without enough history): signals, not the plan, decide how much is
        deployed, so a plan expecting the full target would always be missed."""
        equity = self._equity(day - UTILISATION_WINDOW, day)
        if len(equity) < MIN_UTILISATION_SESSIONS:
            return 1.0
        held = (equity["gross_exposure"].astype(float) / equity["equity"].astype(float))
        targets = [self._regime_exposure(_as_date(d)) for d in equity["as_of"]]
        return float(min(1.0, max(0.1, held.mean() / max(np.mean(targets), 1e-9))))

    def _month_plan(self, day: date, period_day: date, reason: str) -> dict:
        policy = self.recorded_policy(period_day)
        ahead = self._events_ahead(day, day + EVENT_HORIZON)
        events = sorted({str(d) for d, impact in zip(ahead["_day"], ahead["impact"],
                                                        strict=True) if int(impact) >= 8}) \
            if not ahead.empty else []
        regime = str(self.regime_by_day.get(day, "unknown"))
        exposure = self._regime_exposure(day) * self._utilisation(day)
        targets = {"exposure": round(exposure * policy.parameters["exposure_scale"], 4),
                   "allocation": dict(sorted(policy.allocation.items())),
                   "parameters": dict(sorted(policy.parameters.items())),
                   "opportunity_windows": {
                       "stance": STANCES.get(regime, "neutral"),
                       "setups": {"bull": ["breakout", "trend"],
                                  "range": ["mean reversion"],
                                  "bear": ["mean reversion", "sentiment reversal"]}.get(
                                      regime, ["mean reversion"]),
                       "high_impact_event_days": events}}
        tasks = [f"Hold gross exposure near {targets['exposure']:.0%} of equity."]
        tasks += [f"Allocate by the risk budget: {s} x{m:.2f}."
                  for s, m in sorted(policy.allocation.items())]
        tasks.append(f"{regime} regime: look for "
                     + ", ".join(targets["opportunity_windows"]["setups"]) + " setups.")
        if events:
            tasks.append(f"{len(events)} days with high-impact events in the next "
                         f"{EVENT_HORIZON.days} days: "
                         + ", ".join(events[:8]) + ".")
        return self._plan_row(MONTHLY, day, period_day, reason, targets, tasks)

    # -- quarterly ------------------------------------------------------------------------
    def _quarterly(self, day: date, effective: date) -> ReflectionOutput:
        out = ReflectionOutput()
        review = review_label(QUARTERLY, day)
        self._meta_review(out, day, review)
        out.plans.append(self._quarter_plan(day, effective, "scheduled"))
        return out

    def _since_quarter_began(self, day: date) -> pd.DataFrame:
        """The combined account's days from the close before ``day``'s quarter began (the
        first day's own when none is known) to ``day``."""
        start = _quarter_start(day)
        equity = self._equity(start - timedelta(days=10), day)
        before = self._equity(start - timedelta(days=10), start - timedelta(days=1))
        return equity.iloc[max(len(before) - 1, 0):]

    def _quarter_drawdown(self, day: date) -> float:
        """The combined account's drawdown at ``day``'s close from its highest close since
        the close before the quarter began (NaN with no day)."""
        equity = self._since_quarter_began(day)
        if equity.empty:
            return float("nan")
        values = equity["equity"].astype(float)
        return float(values.iloc[-1] / values.max() - 1)

    def _quarter_return(self, day: date) -> float:
        equity = self._since_quarter_began(day)
        if equity.empty:
            return float("nan")
        first = equity.iloc[0]
        base = float(first["equity"]) if _as_date(first["as_of"]) < _quarter_start(day) \
            else float(first["equity"]) / (1 + float(first["daily_return"]))
        return float(equity["equity"].iloc[-1]) / base - 1

    def _quarter_plan(self, day: date, period_day: date, reason: str,
                      replan_drawdown: float | None = None) -> dict:
        regime = str(self.regime_by_day.get(day, "unknown"))
        target, tolerance = QUARTER_TARGETS.get(regime, QUARTER_TARGETS["range"])
        notes = []
        if replan_drawdown is not None:
            target, tolerance = target / 2, max(tolerance, replan_drawdown)
            notes.append("Target halved after the drawdown; tolerance set at the drawdown "
                          "reached: more defence.")
        elif reason == "scheduled":
            last = self._quarter_return(day)
            previous = self._targets(QUARTERLY).get("return_target")
            if math.isfinite(last) and last < 0:
                target *= 0.75
                notes.append(f"Last quarter lost {last:.1%}: target lowered by a quarter.")
            elif math.isfinite(last) and previous is not None:
                notes.append(f"Last quarter returned {last:.1%} against a target of "
                             f"{float(previous):.1%}.")
        stance = "defensive" if replan_drawdown is not None else STANCES.get(regime, "neutral")
        targets = {"return_target": round(target, 4), "drawdown_tolerance": round(tolerance, 4),
                   "stance": stance}
        tasks = [f"Aim for {target:.1%} this quarter with drawdown under {tolerance:.1%} "
                 f"({stance} stance, {regime} regime).", *notes]
        return self._plan_row(QUARTERLY, day, period_day, reason, targets, tasks)

    def _principles_impact(self, first: date, last: date) -> tuple[float, int]:
        """What the principles earned the combined account on the trades closed in
        [first, last] they sized: the P&L taken minus the P&L at the debate's sizes."""
        multipliers = {c.change_id: float(c.new_value["size_multiplier"])
                       for c in self.changes if c.kind == PRINCIPLE and c.new_value}
        impact, affected = 0.0, 0
        trades = self._trades(first, last)
        for trade in trades.to_dict("records") if not trades.empty else []:
            m = _product(multipliers[c] for c in self.applied.get(trade["decision_id"], [])
                         if c in multipliers)
            if m != 1.0 and m > 0:
                impact += float(trade["pnl"]) * (1 - 1 / m)
                affected += 1
        return impact, affected

    def _meta_review(self, out: ReflectionOutput, day: date, review: str) -> None:
        policy = self.recorded_policy(self.next_session(day))
        expires = day + PROPOSAL_LIFETIME
        trades = self._trades(day - timedelta(days=182), day)
        proposals: list[FrameworkProposal] = []
        if not trades.empty:
            for strategy, frame in trades.groupby("strategy_id", sort=True):
                win = float((frame["pnl"] > 0).mean())
                mean = float(frame["return_pct"].mean())
                if len(frame) >= RETIRE_MIN_TRADES and win < RETIRE_WIN_RATE and mean < 0 \
                        and policy.allocation.get(str(strategy), 1.0) > 0:
                    proposals.append(FrameworkProposal(
                        day, review, f"Retire {strategy} from the allocation",
                        f"{len(frame)} trades in two quarters to {day}: win rate {win:.0%}, "
                        f"mean return {_pct(mean)}; the monthly risk budget only shrinks "
                        "it.", ALLOCATION, str(strategy), 0.0, expires))
        impact, affected = self._principles_impact(day - timedelta(days=92), day)
        if affected >= PRINCIPLE_IMPACT_MIN_TRADES and impact < 0 and \
                policy.framework.get("principles_enabled", True):
            proposals.append(FrameworkProposal(
                day, review, "Suspend the weekly principles",
                f"{affected} trades closed this quarter were sized by principles; at the "
                f"sizes the debate wanted they would have earned about {-impact:,.0f} more "
                "(combined account; P&L scaled with size, before the risk engine's caps).",
                FRAMEWORK, "principles_enabled", False, expires))
        pending = {(p.kind, p.target) for p in self.proposals
                   if proposal_status(p, self.human, day)[0] == "pending"}
        proposals = [p for p in proposals if (p.kind, p.target) not in pending]
        for proposal in proposals:
            self.proposals.append(proposal)
            out.proposals.append(proposal.row())


def _product(values: Iterable[float]) -> float:
    out = 1.0
    for v in values:
        out *= v
    return out


def _risk_budget(returns: pd.DataFrame) -> tuple[np.ndarray, str]:
    """Each strategy's share of an equal risk budget: skfolio's inverse-volatility
    allocation, which gives every strategy the same risk contribution when their returns
    are uncorrelated (a closed-form budget: the full equal-risk-contribution solve takes
    about 80 ms, once a month and at every replan of every variant of the scoreboard). A
    strategy whose returns never moved gets an equal share."""
    from skfolio.optimization import InverseVolatility

    std = returns.std()
    moving = std[std > 0].index
    if len(moving) == 0:
        return np.full(len(returns.columns), 1 / len(returns.columns)), "Equal weights"
    weights = pd.Series(InverseVolatility().fit(returns[moving]).weights_, index=moving)
    still = [c for c in returns.columns if c not in moving]
    share = len(moving) / len(returns.columns)
    full = pd.concat([weights * share, pd.Series(1 / len(returns.columns), index=still)])
    return full.reindex(returns.columns).to_numpy(dtype=float), "Inverse-volatility risk budget"


def plans_frame(rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(list(rows), columns=PLAN_COLUMNS)
