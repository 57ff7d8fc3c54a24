"""The judge's checklist: the policy the reviews left shrinks, drops or scales a decision's
sizes, names each change that did so, and never turns a dropped decision into a trade."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest

from trade_pipelines.agent.decision.checklist import apply_checklist, risk_limits
from trade_pipelines.agent.execution.risk import RiskLimits
from trade_pipelines.agent.reflection.changes import (
    ALLOCATION,
    BASE_POLICY,
    FRAMEWORK,
    PARAMETER,
    PRINCIPLE,
    ROLE_WEIGHT,
    Change,
    Policy,
    fold,
)

DAY = date(2016, 3, 7)
FAMILIES = {"S-mom": "momentum", "S-rev": "mean_reversion"}
TRANSCRIPT = [{"round": 1, "role": "aggressive", "text": "Buy."},
              {"round": 2, "role": "judge", "text": "Execute at half size."}]
HALVE_MOMENTUM_IN_BEAR = {"text": "In a bear market, halve the size of momentum trades.",
                          "family": "momentum", "regime": "bear", "size_multiplier": 0.5}


def _decision(verdict: str = "execute", confidence: float = 0.6,
              strategy_id: str = "S-mom") -> dict[str, Any]:
    return {"as_of": DAY, "decision_id": "D-1", "symbol": "AAA", "strategy_id": strategy_id,
            "verdict": verdict, "confidence": confidence, "weight_aggressive": 0.1,
            "weight_conservative": 0.04, "weight_combined": 0.08,
            "summary": "The judge executes.", "transcript": json.dumps(TRANSCRIPT)}


def _policy(*changes: tuple[str, str, Any]) -> tuple[Policy, list[Change]]:
    made = [Change(date(2016, 3, 4), kind, target, None, value, "evidence",
                   "weekly review 2016-W09", DAY, "metric") for kind, target, value in changes]
    return fold(made, DAY), made


def _weights(row: dict[str, Any]) -> tuple[float, float, float]:
    return row["weight_aggressive"], row["weight_conservative"], row["weight_combined"]


def test_an_empty_policy_leaves_a_decision_alone() -> None:
    decisions = [_decision(), _decision("drop", 0.3), _decision("adjust", strategy_id="S-rev")]
    out = apply_checklist(decisions, BASE_POLICY, "bear", FAMILIES)
    assert out == [{**d, "changes_applied": "[]"} for d in decisions]
    # the input rows are not modified
    assert "changes_applied" not in decisions[0]


def test_a_matching_principle_scales_all_three_sizes_and_is_cited() -> None:
    policy, (change,) = _policy((PRINCIPLE, "momentum in bear", HALVE_MOMENTUM_IN_BEAR))
    (row,) = apply_checklist([_decision()], policy, "bear", FAMILIES)
    assert _weights(row) == (0.05, 0.02, 0.04)
    assert row["verdict"] == "execute"
    assert json.loads(row["changes_applied"]) == [change.change_id]
    transcript = json.loads(row["transcript"])
    assert transcript[:2] == TRANSCRIPT
    (added,) = transcript[2:]
    assert added["role"] == "judge" and added["round"] == 2
    assert added["text"].startswith("Checklist: principle 'In a bear market, halve the size "
                                    "of momentum trades.' sizes by 0.5")
    assert "combined 4.0%; verdict EXECUTE." in added["text"]
    assert row["summary"] == f"The judge executes. {added['text']}"


@pytest.mark.parametrize(("regime", "strategy_id"), [("bull", "S-mom"), ("bear", "S-rev"),
                                                     ("bear", "S-unknown")])
def test_a_principle_for_another_regime_or_family_leaves_the_decision(
        regime: str, strategy_id: str) -> None:
    policy, _ = _policy((PRINCIPLE, "momentum in bear", HALVE_MOMENTUM_IN_BEAR))
    decision = _decision(strategy_id=strategy_id)
    (row,) = apply_checklist([decision], policy, regime, FAMILIES)
    assert row == {**decision, "changes_applied": "[]"}


def test_a_principle_for_any_family_matches_every_strategy_in_its_regime() -> None:
    policy, _ = _policy((PRINCIPLE, "any in bear", {
        "text": "Bear: smaller.", "family": "", "regime": "bear", "size_multiplier": 0.5}))
    rows = apply_checklist([_decision(strategy_id="S-rev"), _decision(strategy_id="S-new")],
                           policy, "bear", FAMILIES)
    assert [_weights(r) for r in rows] == [(0.05, 0.02, 0.04)] * 2


def test_a_principle_sizing_to_zero_drops_the_decision() -> None:
    policy, _ = _policy((PRINCIPLE, "momentum in bear", {**HALVE_MOMENTUM_IN_BEAR,
                                                         "size_multiplier": 0.0}))
    (row,) = apply_checklist([_decision()], policy, "bear", FAMILIES)
    assert row["verdict"] == "drop" and _weights(row) == (0.0, 0.0, 0.0)


def test_a_raised_minimum_confidence_drops_a_less_confident_decision() -> None:
    policy, (change,) = _policy((PARAMETER, "min_confidence", 0.55))
    low, high = _decision(confidence=0.5), _decision(confidence=0.6)
    dropped, kept = apply_checklist([low, high], policy, "bull", FAMILIES)
    assert dropped["verdict"] == "drop" and _weights(dropped) == (0.0, 0.0, 0.0)
    assert json.loads(dropped["changes_applied"]) == [change.change_id]
    assert "confidence 50% is below the minimum 55% a review set: dropped" in \
        json.loads(dropped["transcript"])[-1]["text"]
    assert kept == {**high, "changes_applied": "[]"}


def test_the_default_minimum_confidence_drops_nothing() -> None:
    (row,) = apply_checklist([_decision(confidence=0.2)], BASE_POLICY, "bull", FAMILIES)
    assert row["verdict"] == "execute" and _weights(row) == (0.1, 0.04, 0.08)


def test_a_dropped_decision_is_never_made_a_trade() -> None:
    policy, _ = _policy((PRINCIPLE, "momentum in bear", {**HALVE_MOMENTUM_IN_BEAR,
                                                         "size_multiplier": 1.25}),
                        (ALLOCATION, "S-mom", 2.0), (PARAMETER, "exposure_scale", 1.2),
                        (ROLE_WEIGHT, "bear", 1.5))
    dropped = {**_decision("drop"), "weight_aggressive": 0.0, "weight_conservative": 0.0,
               "weight_combined": 0.0}
    (row,) = apply_checklist([dropped], policy, "bear", FAMILIES)
    assert row == {**dropped, "changes_applied": "[]"}


def test_allocation_and_exposure_scale_multiply_the_sizes() -> None:
    policy, changes = _policy((ALLOCATION, "S-mom", 1.5), (PARAMETER, "exposure_scale", 0.5),
                              (PRINCIPLE, "momentum in bear", HALVE_MOMENTUM_IN_BEAR))
    (row,) = apply_checklist([_decision()], policy, "bear", FAMILIES)
    factor = 1.5 * 0.5 * 0.5
    assert _weights(row) == pytest.approx((0.1 * factor, 0.04 * factor, 0.08 * factor))
    by_target = {c.target: c.change_id for c in changes}
    assert json.loads(row["changes_applied"]) == [
        by_target["momentum in bear"], by_target["S-mom"], by_target["exposure_scale"]]
    # another strategy's allocation does not touch it
    (other,) = apply_checklist([_decision(strategy_id="S-rev")], policy, "bull", FAMILIES)
    assert _weights(other) == pytest.approx((0.05, 0.02, 0.04))
    assert json.loads(other["changes_applied"]) == [by_target["exposure_scale"]]


def test_a_role_weight_multiplies_only_the_combined_size() -> None:
    policy, (change,) = _policy((ROLE_WEIGHT, "bear", 1.5))
    (row,) = apply_checklist([_decision()], policy, "bear", FAMILIES)
    assert _weights(row) == (0.1, 0.04, 0.12)
    assert json.loads(row["changes_applied"]) == [change.change_id]
    assert "role weight in a bear market x1.5" in json.loads(row["transcript"])[-1]["text"]
    # in another regime it does nothing
    (bull,) = apply_checklist([_decision()], policy, "bull", FAMILIES)
    assert bull == {**_decision(), "changes_applied": "[]"}


def test_a_decision_nobody_debated_gets_no_role_weight() -> None:
    policy, _ = _policy((ROLE_WEIGHT, "bear", 1.5))
    undebated, debated = {**_decision(), "rounds": 0}, {**_decision(), "rounds": 2}
    untouched, scaled = apply_checklist([undebated, debated], policy, "bear", FAMILIES)
    assert untouched == {**undebated, "changes_applied": "[]"}
    assert _weights(scaled) == (0.1, 0.04, 0.12)


def test_without_principles_enabled_the_principles_are_ignored() -> None:
    policy, changes = _policy((PRINCIPLE, "momentum in bear", HALVE_MOMENTUM_IN_BEAR),
                              (FRAMEWORK, "principles_enabled", False),
                              (ALLOCATION, "S-mom", 0.5))
    (row,) = apply_checklist([_decision()], policy, "bear", FAMILIES)
    assert _weights(row) == (0.05, 0.02, 0.04)
    assert json.loads(row["changes_applied"]) == [changes[2].change_id]
    assert "principle" not in json.loads(row["transcript"])[-1]["text"]


def test_risk_limits_follow_the_policy() -> None:
    assert risk_limits(BASE_POLICY) == RiskLimits()
    policy, _ = _policy((PARAMETER, "max_risk_per_trade", 0.02),
                        (PARAMETER, "max_symbol_weight", 0.15))
    assert risk_limits(policy) == RiskLimits(max_risk_per_trade=0.02, max_symbol_weight=0.15)
    # out of bounds: the bound
    clamped, _ = _policy((PARAMETER, "max_risk_per_trade", 0.5))
    assert risk_limits(clamped).max_risk_per_trade == 0.05
