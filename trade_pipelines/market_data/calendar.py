"""Exchange calendars, known ahead of time: which days are sessions, and which session a
moment falls before. One per market (``agent/markets.py`` names each market's calendar:
XNYS, XSHG, XHKG, or 24/7 for crypto); NYSE unless a caller says otherwise.
Dagster-free, so the command line and the agent can use it."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any

import pandas as pd

NYSE = "XNYS"
# The earliest session each calendar is built from (exchange_calendars refuses a start
# before its own first day: the Shanghai exchange opened in December 1990).
FIRST_SESSIONS = {"XNYS": "1990-01-02", "XSHG": "1991-01-02", "XHKG": "1990-01-02",
                  "24/7": "1990-01-01"}


# How messages name each calendar: "not an NYSE session".
CALENDAR_NAMES = {"XNYS": "NYSE", "XSHG": "Shanghai/Shenzhen", "XHKG": "Hong Kong",
                  "24/7": "24/7"}


def calendar_name(calendar: str) -> str:
    return CALENDAR_NAMES.get(calendar, calendar)


def a_session_of(calendar: str) -> str:
    """"an NYSE session", "a Hong Kong session": for messages."""
    name = calendar_name(calendar)
    return f"{'an' if name == 'NYSE' else 'a'} {name} session"


@functools.cache
def exchange_calendar(calendar: str = NYSE) -> Any:  # exchange_calendars.ExchangeCalendar
    import exchange_calendars as xcals  # imported lazily (slow import)

    return xcals.get_calendar(calendar, start=FIRST_SESSIONS.get(calendar, "1990-01-02"))


def nyse() -> Any:
    return exchange_calendar(NYSE)


def exchange_sessions(start: date, end: date, calendar: str = NYSE) -> list[date]:
    """Sessions in [start, end] of ``calendar``, from the exchange calendar."""
    sessions = exchange_calendar(calendar).sessions
    chosen = sessions[(sessions >= pd.Timestamp(start)) & (sessions <= pd.Timestamp(end))]
    return [d.date() for d in chosen]


def is_session(day: date, calendar: str = NYSE) -> bool:
    return bool(exchange_calendar(calendar).is_session(pd.Timestamp(day)))


def next_session_after(moment: datetime, calendar: str = NYSE) -> date:
    """The first session that opens after ``moment`` (a naive moment is taken as UTC):
    during a session, that is the next day's; before the open, today's."""
    stamp = pd.Timestamp(moment if moment.tzinfo else moment.replace(tzinfo=UTC))
    exchange = exchange_calendar(calendar)
    return exchange.minute_to_session(exchange.next_open(stamp)).date()


def session_on_or_after(day: date, calendar: str = NYSE) -> date:
    """``day`` itself when it is a session, else the next one."""
    return exchange_calendar(calendar).date_to_session(pd.Timestamp(day),
                                                       direction="next").date()


def allowed_days(days: Iterable[date], calendar: str = NYSE) -> set[date]:
    """The days among ``days`` a bar may carry on ``calendar``: its sessions, and any day
    outside the span the calendar covers (which it cannot judge). What the bar suite's
    calendar expectation accepts."""
    wanted = set(days)
    if not wanted:
        return set()
    sessions = exchange_calendar(calendar).sessions
    first, last = sessions[0].date(), sessions[-1].date()
    known = set(exchange_sessions(min(wanted), max(wanted), calendar))
    return {d for d in wanted if d in known or d < first or d > last}
