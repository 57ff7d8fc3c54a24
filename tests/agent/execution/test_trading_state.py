"""The supervisor's controls: each session's trading state is a pure function of the
recorded events, never of when it is asked."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from trade_pipelines.agent.execution.controls import (
    ACTIVE,
    ControlEvent,
    ControlSchedule,
    events_frame,
    events_from_rows,
    new_event,
)

MON, TUE, WED, THU = (date(2024, 3, 4) + timedelta(days=i) for i in range(4))
NOON = datetime(2024, 3, 1, 12, 0)


def event(action: str, day: date, minutes: int = 0, reason: str = "why") -> ControlEvent:
    return ControlEvent(action, day, reason, "alice", NOON + timedelta(minutes=minutes))


def test_no_events_means_active_every_day() -> None:
    schedule = ControlSchedule()
    assert schedule.state(MON) == ACTIVE
    assert ACTIVE.allows_entries and not ACTIVE.halted


def test_a_pause_applies_from_its_session_on_and_not_before() -> None:
    schedule = ControlSchedule([event("pause", TUE, reason="earnings week")])
    assert schedule.state(MON) == ACTIVE
    for day in (TUE, WED, THU):
        state = schedule.state(day)
        assert (state.mode, state.since, state.reason, state.by) == (
            "paused", TUE, "earnings week", "alice")
        assert not state.allows_entries and not state.halted
    assert schedule.state(TUE).describe() == \
        "trading paused from 2024-03-05 by alice: earnings week"


def test_halt_then_resume() -> None:
    schedule = ControlSchedule([event("resume", THU, 2), event("halt", TUE, 1)])
    assert schedule.state(MON).mode == "active"
    assert schedule.state(TUE).halted and schedule.state(WED).halted
    assert not schedule.state(TUE).allows_entries
    assert schedule.state(THU).allows_entries


def test_events_apply_by_session_then_by_recording_time() -> None:
    # recorded later but effective earlier: it rules only until the later session's event
    schedule = ControlSchedule([event("pause", WED, 0), event("resume", TUE, 5)])
    assert schedule.state(TUE).mode == "active"
    assert schedule.state(WED).mode == "paused"
    # two events for one session: the one recorded last wins
    same_day = ControlSchedule([event("resume", TUE, 9), event("pause", TUE, 1)])
    assert same_day.state(TUE).mode == "active"


def test_the_state_does_not_depend_on_the_order_events_are_given() -> None:
    events = [event("pause", TUE, 3), event("halt", WED, 1), event("resume", THU, 2)]
    forward, backward = ControlSchedule(events), ControlSchedule(events[::-1])
    for day in (MON, TUE, WED, THU):
        assert forward.state(day) == backward.state(day)


def test_new_event_records_utc_and_needs_a_reason_to_pause() -> None:
    now = datetime(2024, 3, 1, 22, 15, 30, 123456, tzinfo=UTC)
    made = new_event("halt", "  ", "bob", TUE, now)
    assert made.recorded_at == datetime(2024, 3, 1, 22, 15, 30, 123456)
    # A resume recorded in the same second, for the same session, comes after the pause.
    pause = new_event("pause", "review", "bob", TUE, now)
    resume = new_event("resume", "done", "bob", TUE, now.replace(microsecond=654321))
    assert ControlSchedule([resume, pause]).state(TUE).allows_entries
    assert made.reason == ""
    with pytest.raises(ValueError, match="reason"):
        new_event("pause", " ", "bob", TUE, now)
    with pytest.raises(ValueError, match="unknown control action"):
        new_event("stop", "x", "bob", TUE, now)
    with pytest.raises(ValueError, match="who"):
        ControlEvent("pause", TUE, "x", "", NOON)


def test_events_survive_a_round_trip_through_rows_with_their_ids() -> None:
    events = [event("pause", TUE, 1), event("resume", THU, 2, reason="")]
    frame = events_frame(events)
    assert list(frame["event_id"]) == [e.event_id for e in events]
    assert len(set(frame["event_id"])) == 2
    back = events_from_rows(frame)
    assert back == events
