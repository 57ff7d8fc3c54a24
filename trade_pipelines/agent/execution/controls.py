"""The supervisor's controls as dated events, and the trading state they give each day.

A control is an event, never a switch read at run time: who recorded it, when (UTC), why,
and the first session it applies to (``effective_from``). The trading state on a session
is a pure function of the recorded events, so a replay's ledger depends only on the data
and the events, and re-running a month after a pause gives the same earlier days.

Semantics, for an event effective from session D:

- ``pause``: entries decided at the close of D or later are refused (rejected, with the
  pause's reason), and entry orders still pending at D's open (decided the session
  before, to fill at D's bar) are cancelled with the reason. Protective exits (stop
  loss, take profit, time exits, risk cuts) and their pending orders still fill.
- ``halt``: everything ``pause`` does, and at D's open every position still held is sold
  at D's bar (order purpose ``halt``, placed before the bar because the supervisor's
  instruction, not the bar, triggers it). Each later halted session sells whatever is
  still held (a symbol without a bar, a fill capped by volume) the same way.
- ``resume``: entries decided at the close of D or later are allowed again.

Ordering: events apply in the order of ``effective_from``, then of ``recorded_at``; the
state on D is set by the last event effective on or before D (none: active). So a later
event for an earlier session overrides an earlier one only from its own session on.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import pandas as pd

from trade_pipelines.agent.ids import stable_id

ACTIONS = ("pause", "resume", "halt")
MODE_OF_ACTION = {"pause": "paused", "resume": "active", "halt": "halted"}
EVENT_COLUMNS = ["event_id", "action", "effective_from", "reason", "recorded_by",
                 "recorded_at"]


@dataclass(frozen=True)
class ControlEvent:
    action: str            # pause / resume / halt
    effective_from: date   # the first session it applies to
    reason: str
    recorded_by: str       # the OS user, or "supervisor app"
    recorded_at: datetime  # UTC, naive

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ValueError(f"unknown control action {self.action!r}; one of {ACTIONS}")
        if not self.recorded_by:
            raise ValueError("a control event must say who recorded it")

    @property
    def event_id(self) -> str:
        return stable_id("E", self.action, self.effective_from, self.reason,
                         self.recorded_by, self.recorded_at.isoformat())

    def record(self) -> dict[str, Any]:
        return {"event_id": self.event_id, "action": self.action,
                "effective_from": self.effective_from, "reason": self.reason,
                "recorded_by": self.recorded_by, "recorded_at": self.recorded_at}


@dataclass(frozen=True)
class TradingState:
    """What the risk engine checks: active, paused or halted, and because of whom."""

    mode: str = "active"          # active / paused / halted
    since: date | None = None     # the session the deciding event took effect
    reason: str = ""
    by: str = ""

    @property
    def allows_entries(self) -> bool:
        return self.mode == "active"

    @property
    def halted(self) -> bool:
        return self.mode == "halted"

    def describe(self) -> str:
        if self.mode == "active":
            return "trading active"
        return (f"trading {self.mode} from {self.since} by {self.by or 'unknown'}: "
                f"{self.reason or 'no reason given'}")


ACTIVE = TradingState()


def new_event(action: str, reason: str, recorded_by: str, effective_from: date,
              now: datetime | None = None) -> ControlEvent:
    """An event recorded now (UTC, to the microsecond: two controls for one session
    recorded within a second must still apply in the order they were made); pause needs
    a reason."""
    if action == "pause" and not reason.strip():
        raise ValueError("a pause needs a reason")
    moment = (now or datetime.now(UTC)).astimezone(UTC).replace(tzinfo=None)
    return ControlEvent(action, effective_from, reason.strip(), recorded_by, moment)


def in_order(events: Iterable[ControlEvent]) -> list[ControlEvent]:
    return sorted(events, key=lambda e: (e.effective_from, e.recorded_at, e.event_id))


class ControlSchedule:
    """The trading state of any session, from the recorded events."""

    def __init__(self, events: Iterable[ControlEvent] = ()) -> None:
        self.events = in_order(events)
        self._starts = [e.effective_from for e in self.events]

    def state(self, day: date) -> TradingState:
        index = bisect.bisect_right(self._starts, day) - 1
        if index < 0:
            return ACTIVE
        event = self.events[index]
        return TradingState(MODE_OF_ACTION[event.action], event.effective_from, event.reason,
                            event.recorded_by)


NO_CONTROLS = ControlSchedule()


def events_frame(events: Iterable[ControlEvent]) -> pd.DataFrame:
    return pd.DataFrame([e.record() for e in in_order(events)], columns=EVENT_COLUMNS)


def events_from_rows(rows: pd.DataFrame | Sequence[Mapping[str, Any]]) -> list[ControlEvent]:
    """Events from stored rows (DuckDB gives timestamps where the agent wants dates)."""
    records = rows.to_dict("records") if isinstance(rows, pd.DataFrame) else list(rows)
    return [ControlEvent(str(r["action"]), pd.Timestamp(r["effective_from"]).date(),
                         _text(r.get("reason")), str(r["recorded_by"]),
                         pd.Timestamp(r["recorded_at"]).to_pydatetime())
            for r in records]


def _text(value: Any) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) \
        else str(value)
