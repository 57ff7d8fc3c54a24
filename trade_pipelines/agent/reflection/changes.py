"""Changes are data: every change a review makes to the agent's behaviour (a principle, a
parameter, a role weight, a strategy allocation, a framework switch) is one versioned
row with its evidence, the review that made it and the first session it applies to.

The agent's behaviour on a session is the ``Policy`` folded from the changes in effect
that session, minus those a human rolled back before it; nothing else adjusts it. So a
rollback restores exactly the behaviour the agent would have had without the change, and
a replay with the same data and the same human decisions gives the same ledger.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

import pandas as pd

from trade_pipelines.agent.ids import stable_id

CHANGE_COLUMNS = ["change_id", "as_of", "kind", "target", "old_value", "new_value",
                  "evidence", "review", "effective_from", "metric"]
HUMAN_DECISION_COLUMNS = ["decision_id", "as_of", "subject_id", "action", "effective_from",
                          "reason", "recorded_by", "recorded_at"]
PROPOSAL_COLUMNS = ["proposal_id", "as_of", "review", "title", "evidence", "kind", "target",
                    "new_value", "expires_on"]

PRINCIPLE = "principle"
PARAMETER = "parameter"
ROLE_WEIGHT = "role_weight"
ALLOCATION = "allocation"
FRAMEWORK = "framework"
CHANGE_KINDS = (PRINCIPLE, PARAMETER, ROLE_WEIGHT, ALLOCATION, FRAMEWORK)

ROLLBACK = "rollback"
APPROVE = "approve"
REJECT = "reject"
HUMAN_ACTIONS = (ROLLBACK, APPROVE, REJECT)

# The parameters a review may move, with their defaults and hard bounds: no review can
# take one outside them, whatever its evidence.
PARAMETER_DEFAULTS: Mapping[str, float] = {
    # scales every new position's size (drawdown beyond the quarter's tolerance lowers it)
    "exposure_scale": 1.0,
    # decisions below this confidence are dropped (over-trading raises it)
    "min_confidence": 0.45,
    # the risk engine's limits (agent/execution/risk.py), within its defaults
    "max_risk_per_trade": 0.05,
    "max_symbol_weight": 0.30,
}
PARAMETER_BOUNDS: Mapping[str, tuple[float, float]] = {
    "exposure_scale": (0.5, 1.2),
    "min_confidence": (0.45, 0.65),
    "max_risk_per_trade": (0.01, 0.05),
    "max_symbol_weight": (0.10, 0.30),
}
# A strategy's allocation multiplies its trades' sizes; a role weight multiplies the
# combined account's size in a regime. Both bounded.
ALLOCATION_BOUNDS = (0.0, 2.0)
ROLE_WEIGHT_BOUNDS = (0.5, 1.5)
# Framework switches the quarterly meta-review may propose (a human approves them).
FRAMEWORK_DEFAULTS: Mapping[str, bool] = {"principles_enabled": True,
                                          "parameter_reviews_enabled": True}


def bounded(name: str, value: float) -> float:
    low, high = PARAMETER_BOUNDS[name]
    return float(min(high, max(low, value)))


@dataclass(frozen=True)
class Principle:
    """A rule of the debate's checklist: trades of ``family`` (any when empty) in
    ``regime`` (any when empty) are sized by ``size_multiplier`` (0 drops them)."""

    text: str
    family: str = ""
    regime: str = ""
    size_multiplier: float = 1.0

    def matches(self, family: str, regime: str) -> bool:
        return (not self.family or self.family == family) and \
            (not self.regime or self.regime == regime)

    def value(self) -> dict[str, Any]:
        return {"text": self.text, "family": self.family, "regime": self.regime,
                "size_multiplier": self.size_multiplier}


@dataclass(frozen=True)
class Change:
    as_of: date                 # the close of the review that made it
    kind: str
    target: str
    old_value: Any              # JSON-able; None: nothing before
    new_value: Any              # JSON-able; None: withdrawn
    evidence: str
    review: str                 # e.g. "weekly review 2016-W12"
    effective_from: date        # the first session it applies to
    metric: str                 # what its effect is measured by

    @property
    def change_id(self) -> str:
        return stable_id("C", self.review, self.kind, self.target)

    def row(self) -> dict[str, Any]:
        return {"change_id": self.change_id, "as_of": self.as_of, "kind": self.kind,
                "target": self.target, "old_value": _json(self.old_value),
                "new_value": _json(self.new_value), "evidence": self.evidence,
                "review": self.review, "effective_from": self.effective_from,
                "metric": self.metric}


@dataclass(frozen=True)
class HumanDecision:
    """A person's decision on a change (rollback) or a proposal (approve, reject), from
    the first session ``effective_from``."""

    subject_id: str
    action: str
    effective_from: date
    reason: str
    recorded_by: str
    recorded_at: datetime

    @property
    def decision_id(self) -> str:
        return stable_id("H", self.subject_id, self.action, self.effective_from,
                         self.recorded_at.isoformat())

    def row(self) -> dict[str, Any]:
        return {"decision_id": self.decision_id, "as_of": self.recorded_at.date(),
                "subject_id": self.subject_id, "action": self.action,
                "effective_from": self.effective_from, "reason": self.reason,
                "recorded_by": self.recorded_by, "recorded_at": self.recorded_at}


@dataclass(frozen=True)
class FrameworkProposal:
    """A change to the agent's framework that waits for a human: applied from the session
    an approval names, never if rejected or left unapproved past ``expires_on``."""

    as_of: date
    review: str
    title: str
    evidence: str
    kind: str
    target: str
    new_value: Any
    expires_on: date

    @property
    def proposal_id(self) -> str:
        return stable_id("P", self.review, self.kind, self.target)

    def row(self) -> dict[str, Any]:
        return {"proposal_id": self.proposal_id, "as_of": self.as_of, "review": self.review,
                "title": self.title, "evidence": self.evidence, "kind": self.kind,
                "target": self.target, "new_value": _json(self.new_value),
                "expires_on": self.expires_on}


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True)


def _value(text: Any) -> Any:
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return None
    return json.loads(text)


def _day(value: Any) -> date:
    return pd.Timestamp(value).date()


def changes_from_rows(rows: pd.DataFrame | Sequence[Mapping[str, Any]]) -> list[Change]:
    records = rows.to_dict("records") if isinstance(rows, pd.DataFrame) else list(rows)
    return [Change(_day(r["as_of"]), str(r["kind"]), str(r["target"]), _value(r["old_value"]),
                   _value(r["new_value"]), str(r["evidence"]), str(r["review"]),
                   _day(r["effective_from"]), str(r["metric"])) for r in records]


def human_decisions_from_rows(rows: pd.DataFrame | Sequence[Mapping[str, Any]]
                              ) -> list[HumanDecision]:
    records = rows.to_dict("records") if isinstance(rows, pd.DataFrame) else list(rows)
    return [HumanDecision(str(r["subject_id"]), str(r["action"]), _day(r["effective_from"]),
                          str(r["reason"] or ""), str(r["recorded_by"]),
                          pd.Timestamp(r["recorded_at"]).to_pydatetime()) for r in records]


def proposals_from_rows(rows: pd.DataFrame | Sequence[Mapping[str, Any]]
                        ) -> list[FrameworkProposal]:
    records = rows.to_dict("records") if isinstance(rows, pd.DataFrame) else list(rows)
    return [FrameworkProposal(_day(r["as_of"]), str(r["review"]), str(r["title"]),
                              str(r["evidence"]), str(r["kind"]), str(r["target"]),
                              _value(r["new_value"]), _day(r["expires_on"]))
            for r in records]


def human_decisions_frame(decisions: Iterable[HumanDecision]) -> pd.DataFrame:
    return pd.DataFrame([d.row() for d in decisions], columns=HUMAN_DECISION_COLUMNS)


def proposal_status(proposal: FrameworkProposal, decisions: Iterable[HumanDecision],
                    day: date) -> tuple[str, HumanDecision | None]:
    """``pending``, ``approved``, ``rejected`` or ``expired`` as of ``day``, with the
    deciding human decision (the first recorded approve or reject wins; one recorded after
    the expiry does not count)."""
    ruled = sorted((d for d in decisions if d.subject_id == proposal.proposal_id
                    and d.action in (APPROVE, REJECT)
                    and d.recorded_at.date() <= proposal.expires_on),
                   key=lambda d: (d.recorded_at, d.decision_id))
    if ruled:
        return ("approved" if ruled[0].action == APPROVE else "rejected"), ruled[0]
    return ("expired" if day > proposal.expires_on else "pending"), None


def approved_change(proposal: FrameworkProposal, approval: HumanDecision,
                    old_value: Any) -> Change:
    """The change an approved proposal makes, from the session its approval names."""
    return Change(approval.effective_from, proposal.kind, proposal.target, old_value,
                  proposal.new_value, f"{proposal.title}. {proposal.evidence} Approved by "
                  f"{approval.recorded_by}: {approval.reason or 'no reason given'}.",
                  f"approval of {proposal.proposal_id}", approval.effective_from,
                  "combined account's mean daily return")


@dataclass(frozen=True)
class Policy:
    """What the reviews may adjust, as of one session."""

    parameters: Mapping[str, float] = field(default_factory=lambda: dict(PARAMETER_DEFAULTS))
    principles: Mapping[str, Principle] = field(default_factory=dict)
    allocation: Mapping[str, float] = field(default_factory=dict)   # strategy -> multiplier
    role_weights: Mapping[str, float] = field(default_factory=dict)  # regime -> multiplier
    framework: Mapping[str, bool] = field(default_factory=lambda: dict(FRAMEWORK_DEFAULTS))
    # target -> the change that set it (for the decisions' ``changes_applied``)
    sources: Mapping[tuple[str, str], str] = field(default_factory=dict)

    def value_of(self, kind: str, target: str) -> Any:
        """The current value of one target, as a change would record it."""
        if kind == PARAMETER:
            return self.parameters.get(target, PARAMETER_DEFAULTS.get(target))
        if kind == PRINCIPLE:
            p = self.principles.get(target)
            return None if p is None else p.value()
        if kind == ALLOCATION:
            return self.allocation.get(target, 1.0)
        if kind == ROLE_WEIGHT:
            return self.role_weights.get(target, 1.0)
        if kind == FRAMEWORK:
            return self.framework.get(target, FRAMEWORK_DEFAULTS.get(target))
        raise ValueError(f"unknown change kind {kind!r}")

    def with_change(self, change: Change) -> Policy:
        kind, target, value = change.kind, change.target, change.new_value
        sources = {**self.sources, (kind, target): change.change_id}
        if kind == PARAMETER:
            # A review moves a parameter by a step from where it was: folded as that step,
            # so a rolled-back earlier step no longer counts under the later ones.
            current = self.parameters.get(target, PARAMETER_DEFAULTS[target])
            if value is None:
                moved = PARAMETER_DEFAULTS[target]
            elif change.old_value is None:
                moved = bounded(target, float(value))
            else:
                moved = bounded(target, round(current + float(value)
                                              - float(change.old_value), 6))
            return replace(self, parameters={**self.parameters, target: moved},
                           sources=sources)
        if kind == PRINCIPLE:
            principles = dict(self.principles)
            if value is None:
                principles.pop(target, None)
            else:
                principles[target] = Principle(str(value["text"]), str(value["family"]),
                                               str(value["regime"]),
                                               float(value["size_multiplier"]))
            return replace(self, principles=principles, sources=sources)
        if kind == ALLOCATION:
            return replace(self, allocation=_bounded_entry(
                self.allocation, target, value, ALLOCATION_BOUNDS), sources=sources)
        if kind == ROLE_WEIGHT:
            return replace(self, role_weights=_bounded_entry(
                self.role_weights, target, value, ROLE_WEIGHT_BOUNDS), sources=sources)
        if kind == FRAMEWORK:
            return replace(self, framework={**self.framework, target: bool(
                FRAMEWORK_DEFAULTS[target] if value is None else value)}, sources=sources)
        raise ValueError(f"unknown change kind {change.kind!r}")


def _bounded_entry(mapping: Mapping[str, float], target: str, value: Any,
                   bounds: tuple[float, float]) -> dict[str, float]:
    """``mapping`` with ``target`` set to ``value`` within ``bounds`` (None: removed)."""
    out = dict(mapping)
    if value is None:
        out.pop(target, None)
    else:
        out[target] = min(bounds[1], max(bounds[0], float(value)))
    return out


BASE_POLICY = Policy()


def rolled_back(decisions: Iterable[HumanDecision], day: date) -> set[str]:
    """The changes a human rolled back with effect at or before ``day``."""
    return {d.subject_id for d in decisions if d.action == ROLLBACK and d.effective_from <= day}


def fold(changes: Iterable[Change], day: date, excluded: set[str] = frozenset(),
         base: Policy = BASE_POLICY) -> Policy:
    """The policy in effect on ``day``: ``base`` with every change effective by then, in
    the order they took effect, except the ``excluded`` (rolled back)."""
    policy = base
    for change in sorted((c for c in changes if c.effective_from <= day
                          and c.change_id not in excluded),
                         key=lambda c: (c.effective_from, c.as_of, c.change_id)):
        policy = policy.with_change(change)
    return policy


WEEKLY = "weekly"
MONTHLY = "monthly"
QUARTERLY = "quarterly"
HORIZONS = (WEEKLY, MONTHLY, QUARTERLY)


def period_of(horizon: str, day: date) -> str:
    """The period of ``horizon`` holding ``day``: ``2016-W12`` (ISO week), ``2016-03``,
    ``2016-Q1``."""
    if horizon == WEEKLY:
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    if horizon == MONTHLY:
        return f"{day:%Y-%m}"
    if horizon == QUARTERLY:
        return f"{day.year}-Q{(day.month - 1) // 3 + 1}"
    raise ValueError(f"unknown horizon {horizon!r}")


def review_label(horizon: str, day: date) -> str:
    """The name a review's changes carry: ``weekly review 2016-W12``."""
    return f"{horizon} review {period_of(horizon, day)}"
