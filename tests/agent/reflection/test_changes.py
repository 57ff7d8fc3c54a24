"""Changes are data: the policy of a session is the fold of the changes in effect by then,
minus the rolled-back ones; proposals wait for a human; every row reads back as written."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pandas as pd
import pytest

from trade_pipelines.agent.reflection.changes import (
    ALLOCATION,
    ALLOCATION_BOUNDS,
    APPROVE,
    BASE_POLICY,
    CHANGE_COLUMNS,
    FRAMEWORK,
    MONTHLY,
    PARAMETER,
    PARAMETER_BOUNDS,
    PARAMETER_DEFAULTS,
    PRINCIPLE,
    PROPOSAL_COLUMNS,
    QUARTERLY,
    REJECT,
    ROLE_WEIGHT,
    ROLE_WEIGHT_BOUNDS,
    ROLLBACK,
    WEEKLY,
    Change,
    FrameworkProposal,
    HumanDecision,
    Principle,
    approved_change,
    changes_from_rows,
    fold,
    human_decisions_frame,
    human_decisions_from_rows,
    period_of,
    proposal_status,
    proposals_from_rows,
    review_label,
    rolled_back,
)

MON, TUE, WED, THU = date(2016, 3, 7), date(2016, 3, 8), date(2016, 3, 9), date(2016, 3, 10)
HALVE_MOMENTUM = {"text": "In a bear market, halve the size of momentum trades.",
                  "family": "momentum", "regime": "bear", "size_multiplier": 0.5}


def _change(kind: str, target: str, new_value: Any, effective_from: date,
            review: str = "weekly review 2016-W09", as_of: date = date(2016, 3, 4),
            old_value: Any = None) -> Change:
    return Change(as_of, kind, target, old_value, new_value, "evidence", review,
                  effective_from, "metric")


def _decision(subject_id: str, action: str, effective_from: date,
              recorded_at: datetime, reason: str = "why") -> HumanDecision:
    return HumanDecision(subject_id, action, effective_from, reason, "alice", recorded_at)


def _proposal(expires_on: date = date(2016, 4, 28)) -> FrameworkProposal:
    return FrameworkProposal(date(2016, 3, 31), "quarterly review 2016-Q1", "Retire S-x",
                             "9 trades, win rate 22%", ALLOCATION, "S-x", 0.0, expires_on)


# -- fold ---------------------------------------------------------------------------------

def test_a_change_applies_only_from_its_first_session() -> None:
    change = _change(PARAMETER, "min_confidence", 0.55, WED)
    assert fold([change], TUE).parameters["min_confidence"] == 0.45
    assert fold([change], WED).parameters["min_confidence"] == 0.55
    assert fold([change], THU).parameters["min_confidence"] == 0.55
    assert fold([change], WED).sources[(PARAMETER, "min_confidence")] == change.change_id
    assert (PARAMETER, "min_confidence") not in fold([change], TUE).sources


def test_changes_apply_in_the_order_they_took_effect_and_the_later_one_wins() -> None:
    # listed newest first, and the later review made on an earlier close: the order of
    # effect decides, not the order in the list
    late = _change(PARAMETER, "exposure_scale", 0.7, THU, review="weekly review 2016-W10",
                   as_of=date(2016, 3, 2))
    early = _change(PARAMETER, "exposure_scale", 0.9, TUE, review="weekly review 2016-W09")
    assert fold([late, early], WED).parameters["exposure_scale"] == 0.9
    policy = fold([late, early], THU)
    assert policy.parameters["exposure_scale"] == 0.7
    assert policy.sources[(PARAMETER, "exposure_scale")] == late.change_id
    # two changes from the same session: the later close wins
    first = _change(ALLOCATION, "S-a", 1.5, TUE, review="monthly review 2016-02",
                    as_of=date(2016, 2, 29))
    second = _change(ALLOCATION, "S-a", 0.5, TUE, review="monthly replan 2016-03-04",
                     as_of=date(2016, 3, 4))
    assert fold([second, first], TUE).allocation == {"S-a": 0.5}


def test_a_rolled_back_change_is_excluded_exactly_from_its_rollback_day() -> None:
    change = _change(PRINCIPLE, "momentum in bear", HALVE_MOMENTUM, TUE)
    rollback = _decision(change.change_id, ROLLBACK, THU, datetime(2016, 3, 9, 18))
    other = _decision("C-other", ROLLBACK, TUE, datetime(2016, 3, 7, 18))
    assert rolled_back([rollback, other], WED) == {"C-other"}
    assert rolled_back([rollback, other], THU) == {"C-other", change.change_id}
    before = fold([change], WED, rolled_back([rollback], WED))
    assert before.principles["momentum in bear"] == Principle(
        HALVE_MOMENTUM["text"], "momentum", "bear", 0.5)
    after = fold([change], THU, rolled_back([rollback], THU))
    assert after == BASE_POLICY
    # approvals and rejections roll nothing back
    assert rolled_back([_decision(change.change_id, APPROVE, TUE,
                                  datetime(2016, 3, 7, 18))], THU) == set()


def test_a_rollback_restores_the_value_the_change_had_overwritten() -> None:
    first = _change(PARAMETER, "min_confidence", 0.55, TUE)
    second = _change(PARAMETER, "min_confidence", 0.6, THU, review="weekly review 2016-W10")
    excluded = {second.change_id}
    assert fold([first, second], THU, excluded).parameters["min_confidence"] == 0.55
    assert fold([first, second], THU, excluded).sources[(PARAMETER, "min_confidence")] == \
        first.change_id


@pytest.mark.parametrize(("name", "value"), [
    ("exposure_scale", 5.0), ("exposure_scale", -1.0), ("min_confidence", 0.99),
    ("min_confidence", 0.0), ("max_risk_per_trade", 0.5), ("max_risk_per_trade", 0.0),
    ("max_symbol_weight", 1.0), ("max_symbol_weight", 0.01)])
def test_parameters_stay_within_their_hard_bounds(name: str, value: float) -> None:
    low, high = PARAMETER_BOUNDS[name]
    got = fold([_change(PARAMETER, name, value, TUE)], TUE).parameters[name]
    assert got == (high if value > high else low)


def test_allocations_and_role_weights_stay_within_their_bounds() -> None:
    changes = [_change(ALLOCATION, "S-a", 9.0, TUE), _change(ALLOCATION, "S-b", -3.0, TUE),
               _change(ROLE_WEIGHT, "bull", 4.0, TUE), _change(ROLE_WEIGHT, "bear", 0.1, TUE)]
    policy = fold(changes, TUE)
    assert policy.allocation == {"S-a": ALLOCATION_BOUNDS[1], "S-b": ALLOCATION_BOUNDS[0]}
    assert policy.role_weights == {"bull": ROLE_WEIGHT_BOUNDS[1], "bear": ROLE_WEIGHT_BOUNDS[0]}


def test_a_none_value_withdraws_a_principle_or_allocation_and_restores_a_default() -> None:
    made = [_change(PRINCIPLE, "momentum in bear", HALVE_MOMENTUM, TUE),
            _change(ALLOCATION, "S-a", 1.5, TUE), _change(ROLE_WEIGHT, "bull", 1.2, TUE),
            _change(PARAMETER, "max_symbol_weight", 0.2, TUE),
            _change(FRAMEWORK, "principles_enabled", False, TUE)]
    withdrawn = [_change(c.kind, c.target, None, THU, review="weekly review 2016-W10")
                 for c in made]
    during = fold(made + withdrawn, WED)
    assert set(during.principles) == {"momentum in bear"} and during.allocation == {"S-a": 1.5}
    assert during.parameters["max_symbol_weight"] == 0.2
    assert during.framework["principles_enabled"] is False
    after = fold(made + withdrawn, THU)
    assert after.principles == {} and after.allocation == {} and after.role_weights == {}
    assert after.parameters == PARAMETER_DEFAULTS
    assert after.framework["principles_enabled"] is True
    assert after.value_of(PRINCIPLE, "momentum in bear") is None
    assert after.value_of(ALLOCATION, "S-a") == 1.0


def test_an_unknown_kind_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown change kind"):
        fold([_change("mood", "x", 1.0, TUE)], TUE)


# -- proposals -----------------------------------------------------------------------------

def test_a_proposal_is_pending_until_decided_and_expires_unapproved() -> None:
    proposal = _proposal()
    assert proposal_status(proposal, [], date(2016, 4, 28)) == ("pending", None)
    assert proposal_status(proposal, [], date(2016, 4, 29)) == ("expired", None)
    # a decision on another subject does not count
    elsewhere = _decision("P-other", APPROVE, date(2016, 4, 4), datetime(2016, 4, 1, 12))
    assert proposal_status(proposal, [elsewhere], date(2016, 4, 29)) == ("expired", None)


def test_an_approval_or_rejection_decides_a_proposal() -> None:
    proposal = _proposal()
    approve = _decision(proposal.proposal_id, APPROVE, date(2016, 4, 4),
                        datetime(2016, 4, 1, 12))
    reject = _decision(proposal.proposal_id, REJECT, date(2016, 4, 4),
                       datetime(2016, 4, 1, 12))
    assert proposal_status(proposal, [approve], date(2016, 4, 1)) == ("approved", approve)
    assert proposal_status(proposal, [reject], date(2016, 6, 1)) == ("rejected", reject)
    # a rollback is no ruling on a proposal
    rollback = _decision(proposal.proposal_id, ROLLBACK, date(2016, 4, 4),
                         datetime(2016, 4, 1, 12))
    assert proposal_status(proposal, [rollback], date(2016, 4, 1)) == ("pending", None)


def test_a_decision_recorded_after_the_expiry_does_not_count() -> None:
    proposal = _proposal(expires_on=date(2016, 4, 28))
    on_time = _decision(proposal.proposal_id, APPROVE, date(2016, 4, 29),
                        datetime(2016, 4, 28, 23, 59))
    late = _decision(proposal.proposal_id, APPROVE, date(2016, 5, 2),
                     datetime(2016, 4, 29, 0, 1))
    assert proposal_status(proposal, [late], date(2016, 5, 2)) == ("expired", None)
    assert proposal_status(proposal, [late, on_time], date(2016, 5, 2)) == \
        ("approved", on_time)


def test_the_first_of_two_decisions_wins() -> None:
    proposal = _proposal()
    reject = _decision(proposal.proposal_id, REJECT, date(2016, 4, 4),
                       datetime(2016, 4, 1, 9))
    approve = _decision(proposal.proposal_id, APPROVE, date(2016, 4, 4),
                        datetime(2016, 4, 1, 10))
    assert proposal_status(proposal, [approve, reject], date(2016, 4, 5)) == \
        ("rejected", reject)
    earlier_approve = _decision(proposal.proposal_id, APPROVE, date(2016, 4, 4),
                                datetime(2016, 4, 1, 8))
    assert proposal_status(proposal, [reject, earlier_approve], date(2016, 4, 5)) == \
        ("approved", earlier_approve)


def test_an_approved_proposal_becomes_a_change_from_the_approvals_session() -> None:
    proposal = _proposal()
    approval = _decision(proposal.proposal_id, APPROVE, date(2016, 4, 4),
                         datetime(2016, 4, 1, 12), reason="it never worked")
    change = approved_change(proposal, approval, old_value=1.0)
    assert (change.kind, change.target, change.old_value, change.new_value) == \
        (ALLOCATION, "S-x", 1.0, 0.0)
    assert change.effective_from == date(2016, 4, 4)
    assert change.review == f"approval of {proposal.proposal_id}"
    assert "Approved by alice: it never worked." in change.evidence
    assert fold([change], date(2016, 4, 1)).allocation == {}
    assert fold([change], date(2016, 4, 4)).allocation == {"S-x": 0.0}


# -- rows ----------------------------------------------------------------------------------

def test_changes_read_back_from_their_rows() -> None:
    changes = [_change(PRINCIPLE, "momentum in bear", HALVE_MOMENTUM, TUE),
               _change(PARAMETER, "min_confidence", 0.5, WED, old_value=0.45),
               _change(FRAMEWORK, "principles_enabled", False, THU, old_value=True),
               _change(ALLOCATION, "S-a", None, THU, old_value=1.5)]
    rows = [c.row() for c in changes]
    assert set(rows[0]) == set(CHANGE_COLUMNS)
    assert rows[0]["new_value"] == '{"family": "momentum", "regime": "bear", ' \
        '"size_multiplier": 0.5, "text": "In a bear market, halve the size of momentum ' \
        'trades."}'
    assert rows[0]["old_value"] is None
    assert changes_from_rows(rows) == changes
    # as a stored table reads them: timestamps for dates, NaN for a missing value
    frame = pd.DataFrame(rows, columns=CHANGE_COLUMNS)
    frame["as_of"] = pd.to_datetime(frame["as_of"])
    frame["effective_from"] = pd.to_datetime(frame["effective_from"])
    frame["old_value"] = [float("nan") if v is None else v for v in frame["old_value"]]
    back = changes_from_rows(frame)
    assert back == changes
    assert [c.change_id for c in back] == [r["change_id"] for r in rows]


def test_human_decisions_read_back_from_their_rows() -> None:
    decisions = [_decision("C-1", ROLLBACK, TUE, datetime(2016, 3, 7, 18, 30, 5)),
                 _decision("P-1", APPROVE, WED, datetime(2016, 3, 8, 9), reason="")]
    frame = human_decisions_frame(decisions)
    assert list(frame["as_of"]) == [date(2016, 3, 7), date(2016, 3, 8)]
    assert human_decisions_from_rows(frame) == decisions
    assert [d.decision_id for d in human_decisions_from_rows(frame)] == \
        list(frame["decision_id"])
    stored = frame.assign(effective_from=pd.to_datetime(frame["effective_from"]),
                          recorded_at=pd.to_datetime(frame["recorded_at"]))
    assert human_decisions_from_rows(stored) == decisions
    # a reason stored as NULL reads as no reason
    nulls = stored.assign(reason=[None, None])
    assert [d.reason for d in human_decisions_from_rows(nulls)] == ["", ""]


def test_proposals_read_back_from_their_rows() -> None:
    proposals = [_proposal(), FrameworkProposal(
        date(2016, 6, 30), "quarterly review 2016-Q2", "Suspend the weekly principles",
        "they cost 1,200", FRAMEWORK, "principles_enabled", False, date(2016, 7, 28))]
    rows = [p.row() for p in proposals]
    assert set(rows[0]) == set(PROPOSAL_COLUMNS)
    assert rows[1]["new_value"] == "false"
    assert proposals_from_rows(rows) == proposals
    frame = pd.DataFrame(rows, columns=PROPOSAL_COLUMNS)
    frame["as_of"] = pd.to_datetime(frame["as_of"])
    frame["expires_on"] = pd.to_datetime(frame["expires_on"])
    assert proposals_from_rows(frame) == proposals
    assert [p.proposal_id for p in proposals_from_rows(frame)] == list(frame["proposal_id"])


# -- periods -------------------------------------------------------------------------------

@pytest.mark.parametrize(("horizon", "day", "period"), [
    (WEEKLY, date(2015, 12, 31), "2015-W53"), (WEEKLY, date(2016, 1, 3), "2015-W53"),
    (WEEKLY, date(2016, 1, 4), "2016-W01"), (WEEKLY, date(2014, 12, 29), "2015-W01"),
    (WEEKLY, date(2016, 3, 21), "2016-W12"),
    (MONTHLY, date(2016, 1, 31), "2016-01"), (MONTHLY, date(2016, 12, 1), "2016-12"),
    (QUARTERLY, date(2016, 3, 31), "2016-Q1"), (QUARTERLY, date(2016, 4, 1), "2016-Q2"),
    (QUARTERLY, date(2016, 9, 30), "2016-Q3"), (QUARTERLY, date(2016, 12, 31), "2016-Q4")])
def test_period_of(horizon: str, day: date, period: str) -> None:
    assert period_of(horizon, day) == period


def test_review_label_names_the_period() -> None:
    assert review_label(WEEKLY, date(2016, 3, 25)) == "weekly review 2016-W12"
    assert review_label(QUARTERLY, date(2016, 3, 31)) == "quarterly review 2016-Q1"
    with pytest.raises(ValueError, match="unknown horizon"):
        period_of("daily", date(2016, 3, 25))


def test_a_parameter_moves_by_its_step_so_a_rolled_back_earlier_step_stops_counting() -> None:
    first = _change(PARAMETER, "min_confidence", 0.5, TUE, old_value=0.45)
    second = _change(PARAMETER, "min_confidence", 0.55, THU, review="weekly review 2016-W10",
                     old_value=0.5)
    assert fold([first, second], THU).parameters["min_confidence"] == 0.55
    # without the first step, the second moves the default by its own step
    assert fold([first, second], THU, {first.change_id}).parameters["min_confidence"] == 0.5
    assert fold([first, second], WED, {first.change_id}).parameters["min_confidence"] == 0.45
