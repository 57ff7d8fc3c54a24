"""The NYSE calendar, known ahead of time: which days are sessions, and which session a
moment falls before. Dagster-free, so the command line and the agent can use it."""

from __future__ import annotations

import functools
from datetime import UTC, date, datetime
from typing import Any

import pandas as pd

FIRST_SESSION = "1990-01-02"


@functools.lru_cache(maxsize=1)
def nyse() -> Any:  # exchange_calendars.ExchangeCalendar; imported lazily (slow import)
    import exchange_calendars as xcals

    return xcals.get_calendar("XNYS", start=FIRST_SESSION)


def exchange_sessions(start: date, end: date) -> list[date]:
    """NYSE sessions in [start, end], from the exchange calendar (known ahead of time)."""
    sessions = nyse().sessions
    chosen = sessions[(sessions >= pd.Timestamp(start)) & (sessions <= pd.Timestamp(end))]
    return [d.date() for d in chosen]


def is_session(day: date) -> bool:
    return bool(nyse().is_session(pd.Timestamp(day)))


def next_session_after(moment: datetime) -> date:
    """The first session that opens after ``moment`` (a naive moment is taken as UTC):
    during a session, that is the next day's; before the open, today's."""
    stamp = pd.Timestamp(moment if moment.tzinfo else moment.replace(tzinfo=UTC))
    return nyse().minute_to_session(nyse().next_open(stamp)).date()


def session_on_or_after(day: date) -> date:
    """``day`` itself when it is a session, else the next one."""
    return nyse().date_to_session(pd.Timestamp(day), direction="next").date()
