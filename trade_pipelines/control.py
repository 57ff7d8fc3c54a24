"""The supervisor's controls, stored: pause, resume and halt as dated, audited events in
the warehouse table ``control_events`` (who, when in UTC, why, and the first session each
applies to). The command line and the supervisor app write them; the trading loop reads
them all at the start of a run and derives each day's state from them
(``agent/execution/controls.py``), so a replay never depends on when it runs.
"""

from __future__ import annotations

import getpass
from datetime import UTC, date, datetime

from trade_pipelines.agent.execution.controls import (
    ControlEvent,
    ControlSchedule,
    events_frame,
    events_from_rows,
    new_event,
)
from trade_pipelines.warehouse import Warehouse

APP_USER = "supervisor app"
TABLE = "control_events"


class ControlError(ValueError):
    """A control the supervisor asked for that cannot be recorded as asked."""


def os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user name in a bare container
        return "unknown OS user"


def home_calendar(warehouse: Warehouse) -> str:
    """The exchange calendar of the market the home holds (NYSE for a new home)."""
    from trade_pipelines.agent.markets import market_rules
    from trade_pipelines.home_market import home_market

    return market_rules(home_market(warehouse) or "us").calendar


def default_effective_from(now: datetime | None = None, calendar: str = "XNYS") -> date:
    """The next session of ``calendar`` after ``now``: a control recorded today never
    rewrites a session that has already opened."""
    from trade_pipelines.market_data.calendar import next_session_after

    return next_session_after(now or datetime.now(UTC), calendar)


def effective_session(warehouse: Warehouse, effective_from: date | None,
                      now: datetime) -> date:
    """The first session a human's decision applies to: ``effective_from`` if it is a
    session of the home's market (past ones included, a what-if replay), by default the
    next session after ``now``."""
    from trade_pipelines.market_data.calendar import (
        a_session_of,
        is_session,
        session_on_or_after,
    )

    calendar = home_calendar(warehouse)
    day = effective_from or default_effective_from(now, calendar)
    if not is_session(day, calendar):
        raise ControlError(f"{day} is not {a_session_of(calendar)}; the next one is "
                           f"{session_on_or_after(day, calendar)}")
    return day


def record_control(warehouse: Warehouse, action: str, reason: str, recorded_by: str,
                   effective_from: date | None = None,
                   now: datetime | None = None) -> ControlEvent:
    """Append one event, from ``effective_session``."""
    moment = now or datetime.now(UTC)
    day = effective_session(warehouse, effective_from, moment)
    try:
        event = new_event(action, reason, recorded_by, day, moment)
    except ValueError as error:
        raise ControlError(str(error)) from error
    warehouse.migrate()
    warehouse.append(TABLE, events_frame([event]))
    return event


def load_events(warehouse: Warehouse) -> list[ControlEvent]:
    """Every recorded event; none when the warehouse or the table does not exist yet."""
    if not warehouse.table_exists(TABLE):
        return []
    return events_from_rows(warehouse.query(f"SELECT * FROM {TABLE}"))


def control_schedule(warehouse: Warehouse) -> ControlSchedule:
    return ControlSchedule(load_events(warehouse))
