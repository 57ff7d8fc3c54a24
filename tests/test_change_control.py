"""The humans' decisions on changes and proposals: validated, then appended to
``change_decisions`` as data the policy is folded from."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pytest

from trade_pipelines.agent.reflection.changes import (
    PARAMETER,
    Change,
    FrameworkProposal,
    changes_from_rows,
    fold,
    rolled_back,
)
from trade_pipelines.change_control import (
    ChangeDecisionError,
    changes_with_effects,
    load_change_decisions,
    record_change_decision,
)
from trade_pipelines.control import ControlError
from trade_pipelines.warehouse import Warehouse

CHANGE = Change(date(2019, 3, 8), PARAMETER, "min_confidence", 0.45, 0.55,
                "over-trading in February", "weekly review 2019-W10", date(2019, 3, 11),
                "combined account's mean daily return")
PROPOSAL = FrameworkProposal(date(2019, 3, 29), "quarterly review 2019-Q1",
                             "Stop the parameter reviews", "they moved nothing that helped",
                             "framework", "parameter_reviews_enabled", False,
                             date(2019, 4, 30))
NOW = datetime(2019, 4, 2, 22, 0, tzinfo=UTC)  # after the close: the next session is 04-03


@pytest.fixture
def store(tmp_path: Path) -> Warehouse:
    warehouse = Warehouse(tmp_path / "warehouse.duckdb")
    warehouse.migrate()
    warehouse.append("changes", pd.DataFrame([CHANGE.row()]))
    warehouse.append("framework_proposals", pd.DataFrame([PROPOSAL.row()]))
    return warehouse


def test_no_decision_before_any_is_recorded(tmp_path: Path, store: Warehouse) -> None:
    assert load_change_decisions(Warehouse(tmp_path / "absent.duckdb")) == []
    assert load_change_decisions(store) == []


def test_a_rollback_folds_the_policy_without_the_change_from_its_session(
        store: Warehouse) -> None:
    decision = record_change_decision(store, CHANGE.change_id, "rollback", "  hurt returns ",
                                      "ana", date(2019, 3, 18), NOW)
    assert load_change_decisions(store) == [decision]
    assert (decision.action, decision.effective_from, decision.reason) == (
        "rollback", date(2019, 3, 18), "hurt returns")
    assert decision.recorded_at == datetime(2019, 4, 2, 22, 0)  # naive UTC
    stored = store.query("SELECT * FROM change_decisions")
    assert stored["decision_id"].tolist() == [decision.decision_id]
    assert stored["as_of"].dt.date.tolist() == [date(2019, 4, 2)]
    changes = changes_from_rows(store.query("SELECT * FROM changes"))
    decisions = load_change_decisions(store)
    for day, confidence in ((date(2019, 3, 15), 0.55), (date(2019, 3, 18), 0.45)):
        policy = fold(changes, day, rolled_back(decisions, day))
        assert policy.parameters["min_confidence"] == confidence
    assert changes_with_effects(store)["status"].tolist() == ["rolled back from 2019-03-18"]


def test_a_rollback_defaults_to_the_next_session_and_may_start_with_the_change(
        store: Warehouse) -> None:
    decision = record_change_decision(store, CHANGE.change_id, "rollback", "why", "ana",
                                      now=NOW)
    assert decision.effective_from == date(2019, 4, 3)
    other = Change(date(2019, 3, 15), PARAMETER, "exposure_scale", 1.0, 0.8, "drawdown",
                   "weekly review 2019-W11", date(2019, 3, 18), "mean daily return")
    store.append("changes", pd.DataFrame([other.row()]))
    same_day = record_change_decision(store, other.change_id, "rollback", "why", "ana",
                                      date(2019, 3, 18), NOW)
    assert same_day.effective_from == other.effective_from


@pytest.mark.parametrize(("subject", "reason", "effective_from", "message"), [
    ("C-unknown", "why", None, "no change 'C-unknown'"),
    (PROPOSAL.proposal_id, "why", None, "no change"),
    (CHANGE.change_id, " ", None, "a rollback needs a reason"),
    (CHANGE.change_id, "why", date(2019, 3, 8), "took effect on 2019-03-11"),
    (CHANGE.change_id, "why", date(2019, 3, 16), "the next one is 2019-03-18"),  # Saturday
])
def test_a_rollback_is_refused(store: Warehouse, subject: str, reason: str,
                               effective_from: date | None, message: str) -> None:
    with pytest.raises(ChangeDecisionError, match=message):
        record_change_decision(store, subject, "rollback", reason, "ana", effective_from, NOW)
    assert load_change_decisions(store) == []


def test_a_change_is_rolled_back_once(store: Warehouse) -> None:
    record_change_decision(store, CHANGE.change_id, "rollback", "why", "ana",
                           date(2019, 3, 18), NOW)
    with pytest.raises(ChangeDecisionError, match="already rolled back from 2019-03-18"):
        record_change_decision(store, CHANGE.change_id, "rollback", "again", "bo",
                               date(2019, 3, 12), NOW)
    assert len(load_change_decisions(store)) == 1


def test_an_approval_needs_a_pending_proposal_and_no_reason(store: Warehouse) -> None:
    approval = record_change_decision(store, PROPOSAL.proposal_id, "approve", "", "ana",
                                      now=NOW)
    assert (approval.action, approval.effective_from) == ("approve", date(2019, 4, 3))
    for action, reason in (("approve", ""), ("reject", "changed my mind")):
        with pytest.raises(ChangeDecisionError, match="no longer pending: approved by ana"):
            record_change_decision(store, PROPOSAL.proposal_id, action, reason, "bo",
                                   now=NOW)
    assert load_change_decisions(store) == [approval]


def test_a_rejection_needs_a_reason_and_an_expired_proposal_takes_no_decision(
        store: Warehouse) -> None:
    with pytest.raises(ChangeDecisionError, match="a reject needs a reason"):
        record_change_decision(store, PROPOSAL.proposal_id, "reject", "", "ana", now=NOW)
    with pytest.raises(ChangeDecisionError, match="no proposal 'P-unknown'"):
        record_change_decision(store, "P-unknown", "approve", "", "ana", now=NOW)
    with pytest.raises(ChangeDecisionError, match="no proposal"):
        record_change_decision(store, CHANGE.change_id, "approve", "", "ana", now=NOW)
    after_expiry = datetime(2019, 5, 1, 15, 0, tzinfo=UTC)
    with pytest.raises(ChangeDecisionError, match="expired on 2019-04-30"):
        record_change_decision(store, PROPOSAL.proposal_id, "approve", "", "ana",
                               now=after_expiry)
    rejection = record_change_decision(store, PROPOSAL.proposal_id, "reject", "too soon",
                                       "ana", now=NOW)
    assert load_change_decisions(store) == [rejection]


def test_an_unknown_action_is_refused_and_the_error_is_a_control_error(
        store: Warehouse) -> None:
    with pytest.raises(ControlError, match="unknown action 'undo'"):
        record_change_decision(store, CHANGE.change_id, "undo", "why", "ana", now=NOW)


def test_an_approval_cannot_apply_before_its_proposal_was_made(store: Warehouse) -> None:
    with pytest.raises(ChangeDecisionError, match="proposed at the close before 2019-04-01"):
        record_change_decision(store, PROPOSAL.proposal_id, "approve", "", "ana",
                               date(2019, 3, 29), NOW)
    approval = record_change_decision(store, PROPOSAL.proposal_id, "approve", "", "ana",
                                      date(2019, 4, 1), NOW)
    assert approval.effective_from == date(2019, 4, 1)
