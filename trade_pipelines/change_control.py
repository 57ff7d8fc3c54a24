"""The humans' decisions on what the reviews changed, stored: a rollback of a change, an
approval or a rejection of a framework proposal, each a dated, audited row of
``change_decisions`` (who, when in UTC, why, and the first session it applies to). The
command line writes them; the trading loop reads them as data, so a replay with the same
decisions gives the same ledger whenever it runs (``agent/reflection/changes.py``).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pandas as pd

from trade_pipelines.agent.days import day_of
from trade_pipelines.agent.reflection.change_effects import EFFECT_SESSIONS, change_effects
from trade_pipelines.agent.reflection.changes import (
    CHANGE_COLUMNS,
    HUMAN_ACTIONS,
    REJECT,
    ROLLBACK,
    Change,
    FrameworkProposal,
    HumanDecision,
    changes_from_rows,
    human_decisions_frame,
    human_decisions_from_rows,
    proposal_status,
    proposals_from_rows,
)
from trade_pipelines.control import ControlError, effective_session, home_calendar
from trade_pipelines.market_data.calendar import session_on_or_after
from trade_pipelines.warehouse import Warehouse

TABLE = "change_decisions"
IN_EFFECT = "in effect"


class ChangeDecisionError(ControlError):
    """A decision on a change or a proposal that cannot be recorded as asked."""


def _rows(warehouse: Warehouse, table: str) -> pd.DataFrame:
    if not warehouse.table_exists(table):
        return pd.DataFrame()
    return warehouse.query(f"SELECT * FROM {table} ORDER BY ALL")


def load_change_decisions(warehouse: Warehouse) -> list[HumanDecision]:
    """Every recorded decision; none when the warehouse or the table does not exist yet."""
    return human_decisions_from_rows(_rows(warehouse, TABLE))


def load_changes(warehouse: Warehouse) -> list[Change]:
    return changes_from_rows(_rows(warehouse, "changes"))


def load_proposals(warehouse: Warehouse) -> list[FrameworkProposal]:
    return proposals_from_rows(_rows(warehouse, "framework_proposals"))


def rollback_of(change_id: str, decisions: list[HumanDecision]) -> HumanDecision | None:
    """The rollback recorded for a change (the earliest in effect), if any."""
    rollbacks = [d for d in decisions if d.subject_id == change_id and d.action == ROLLBACK]
    return min(rollbacks, key=lambda d: (d.effective_from, d.recorded_at), default=None)


def change_status(change_id: str, decisions: list[HumanDecision]) -> str:
    """``in effect`` or ``rolled back from D``."""
    rollback = rollback_of(change_id, decisions)
    return IN_EFFECT if rollback is None else f"rolled back from {rollback.effective_from}"


def _utc(moment: datetime | None) -> datetime:
    """``moment`` (naive: already UTC) as a naive UTC datetime, as the warehouse stores it."""
    moment = moment or datetime.now(UTC)
    return moment.replace(tzinfo=None) if moment.tzinfo is None \
        else moment.astimezone(UTC).replace(tzinfo=None)


def _subject_check(warehouse: Warehouse, subject_id: str, action: str,
                   decisions: list[HumanDecision], day: date) -> date | None:
    """Refuses a subject the action cannot apply to; the earliest session it may name."""
    if action == ROLLBACK:
        change = next((c for c in load_changes(warehouse) if c.change_id == subject_id), None)
        if change is None:
            raise ChangeDecisionError(f"no change {subject_id!r} (see `trade-pipelines "
                                      "changes list`)")
        rollback = rollback_of(subject_id, decisions)
        if rollback is not None:
            raise ChangeDecisionError(
                f"{subject_id} is already rolled back from {rollback.effective_from} (by "
                f"{rollback.recorded_by} at {rollback.recorded_at:%Y-%m-%d %H:%M:%S} UTC)")
        return change.effective_from
    proposal = next((p for p in load_proposals(warehouse) if p.proposal_id == subject_id),
                    None)
    if proposal is None:
        raise ChangeDecisionError(f"no proposal {subject_id!r} (see `trade-pipelines "
                                  "proposals list`)")
    status, decided = proposal_status(proposal, decisions, day)
    if status != "pending":
        by = "" if decided is None else (
            f" by {decided.recorded_by} at {decided.recorded_at:%Y-%m-%d %H:%M:%S} UTC")
        when = f" on {proposal.expires_on}" if status == "expired" else by
        raise ChangeDecisionError(f"{subject_id} is no longer pending: {status}{when}")
    # a proposal can apply at the earliest from the session after the review that made it
    return session_on_or_after(proposal.as_of + timedelta(days=1), home_calendar(warehouse))


def record_change_decision(warehouse: Warehouse, subject_id: str, action: str, reason: str,
                           recorded_by: str, effective_from: date | None = None,
                           now: datetime | None = None) -> HumanDecision:
    """Append one decision: a ``rollback`` of a change not rolled back yet, from a session
    on or after the change's own first one; an ``approve`` or ``reject`` of a proposal
    still pending today. ``effective_from`` may name any session of the home's market (a
    what-if replay); by default it is the next session after now. A rollback or a
    rejection needs a reason."""
    if action not in HUMAN_ACTIONS:
        raise ChangeDecisionError(f"unknown action {action!r}; one of "
                                  f"{', '.join(HUMAN_ACTIONS)}")
    reason = (reason or "").strip()
    if action in (ROLLBACK, REJECT) and not reason:
        raise ChangeDecisionError(f"a {action} needs a reason")
    moment = _utc(now)
    decisions = load_change_decisions(warehouse)
    earliest = _subject_check(warehouse, subject_id, action, decisions, moment.date())
    try:
        day = effective_session(warehouse, effective_from, moment)
    except ControlError as error:
        raise ChangeDecisionError(str(error)) from error
    if earliest is not None and day < earliest:
        raise ChangeDecisionError(
            f"{subject_id} took effect on {earliest}: a rollback from {day} would precede it"
            if action == ROLLBACK else f"{subject_id} was proposed at the close before "
            f"{earliest}: it cannot apply from {day}")
    decision = HumanDecision(subject_id, action, day, reason, recorded_by, moment)
    warehouse.migrate()
    warehouse.append(TABLE, human_decisions_frame([decision]))
    return decision


EFFECT_COLUMNS = [*CHANGE_COLUMNS, "status", "effect"]


def changes_with_effects(warehouse: Warehouse,
                         sessions: int = EFFECT_SESSIONS) -> pd.DataFrame:
    """The ``changes`` table with each change's ``status`` (in effect, rolled back from D)
    and ``effect`` (its metric before and after it took effect), oldest first."""
    changes = _rows(warehouse, "changes")
    if changes.empty:
        return pd.DataFrame(columns=EFFECT_COLUMNS)
    changes = changes.sort_values(["effective_from", "as_of", "change_id"],
                                  kind="mergesort").reset_index(drop=True)
    accounts = warehouse.query("SELECT as_of, account, daily_return FROM accounts WHERE "
                               "account = 'combined'") \
        if warehouse.table_exists("accounts") else pd.DataFrame()
    trades = warehouse.query("SELECT * FROM trades WHERE account = 'combined'") \
        if warehouse.table_exists("trades") else pd.DataFrame()
    strategies = _rows(warehouse, "strategies")
    families = dict(zip(strategies["strategy_id"].astype(str),
                        strategies["family"].astype(str), strict=True)) \
        if not strategies.empty else {}
    regimes = _rows(warehouse, "regimes")
    regime_by_day = {day_of(d): str(r)
                     for d, r in zip(regimes["as_of"], regimes["regime"], strict=True)} \
        if not regimes.empty else {}
    decisions = load_change_decisions(warehouse)
    out = changes[CHANGE_COLUMNS].copy()
    out["status"] = [change_status(str(c), decisions) for c in out["change_id"]]
    ends = {str(c): rollback.effective_from for c in out["change_id"]
            if (rollback := rollback_of(str(c), decisions)) is not None}
    out["effect"] = change_effects(changes, accounts, trades, families, regime_by_day,
                                   sessions, ends)
    return out
