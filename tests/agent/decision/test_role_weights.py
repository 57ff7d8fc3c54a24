"""Role weights: the aggressive agent is right when a debated trade won, the
conservative when it lost, per regime, smoothed by a Beta(2, 2) prior."""

from __future__ import annotations

from datetime import date

import pytest

from trade_pipelines.agent.decision.calibration import JudgeCalibration
from trade_pipelines.agent.decision.role_weights import (
    AGGRESSIVE,
    CONSERVATIVE,
    ROLE_WEIGHT_COLUMNS,
    RoleWeights,
)

DAY = date(2022, 3, 1)


def test_a_regime_with_no_outcome_weighs_both_roles_equally() -> None:
    weights = RoleWeights()
    assert weights.weight("bull", AGGRESSIVE) == weights.weight("bull", CONSERVATIVE) == 0.5


def test_wins_move_the_aggressive_weight_of_their_regime_only() -> None:
    weights = RoleWeights()
    rows = weights.record(DAY, [("bull", True), ("bull", True), ("bull", False),
                                ("bear", False)])
    assert weights.weight("bull", AGGRESSIVE) == pytest.approx((2 + 2) / (3 + 4))
    assert weights.weight("bull", CONSERVATIVE) == pytest.approx((1 + 2) / (3 + 4))
    assert weights.weight("bear", AGGRESSIVE) == pytest.approx(2 / 5)
    assert weights.weight("range", AGGRESSIVE) == 0.5
    assert [list(r) for r in rows] == [ROLE_WEIGHT_COLUMNS] * 4
    assert [(r["regime"], r["role"], r["right"], r["n"]) for r in rows] == [
        ("bear", "aggressive", 0, 1), ("bear", "conservative", 1, 1),
        ("bull", "aggressive", 2, 3), ("bull", "conservative", 1, 3)]
    # a day with no outcome changes nothing and adds no history
    assert weights.record(date(2022, 3, 2), []) == []
    assert len(weights.history) == 4


def test_the_calibration_counts_each_decision_once_in_its_decision_day_s_regime() -> None:
    calibration = JudgeCalibration()
    calibration.calibrate(DAY, [{"decision_id": "D1", "confidence": 0.7},
                                {"decision_id": "D2", "confidence": 0.4}], "bear")
    later = date(2022, 3, 9)
    rows = calibration.observe_closed(later, [
        {"as_of": later, "decision_id": "D1", "account": "aggressive", "pnl": -3.0},
        {"as_of": later, "decision_id": "D1", "account": "combined", "pnl": 2.0},
        {"as_of": later, "decision_id": "D2", "account": "aggressive", "pnl": -1.0},
        {"as_of": later, "decision_id": "D9", "account": "combined", "pnl": 5.0}])
    # D1 won in the combined account (the copy that counts), D2 lost; D9 was never
    # debated here; both decisions were made in a bear market
    assert {(r["role"], r["right"], r["n"]) for r in rows} == {("aggressive", 1, 2),
                                                               ("conservative", 1, 2)}
    assert {r["regime"] for r in rows} == {"bear"} and {r["as_of"] for r in rows} == {later}
    # a copy of D1 closing later in another account is not counted again
    assert calibration.observe_closed(date(2022, 3, 10), [
        {"as_of": date(2022, 3, 10), "decision_id": "D1", "account": "conservative",
         "pnl": 1.0}]) == []
