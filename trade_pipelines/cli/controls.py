"""``trade-pipelines pause | resume | halt | controls``: the supervisor's controls as
dated, audited events in the warehouse, and their log."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from trade_pipelines.cli.common import parse_date
from trade_pipelines.settings import paths

if TYPE_CHECKING:
    from trade_pipelines.warehouse import Warehouse

EFFECTS = {
    "pause": "entries decided from then on are refused and pending entries are cancelled; "
             "exits (stops, take-profit, time exits) still fill",
    "halt": "every position is sold at that session's bar and entries are refused until "
            "a resume",
    "resume": "entries decided from then on are allowed again",
}


def cmd_control(args: argparse.Namespace) -> int:
    from trade_pipelines.control import ControlError, os_user, record_control
    from trade_pipelines.warehouse import Warehouse, WarehouseLockedError

    store = Warehouse(paths().warehouse)
    try:
        event = record_control(store, args.command, args.reason or "", os_user(),
                               args.effective_from, datetime.now(UTC))
    except ControlError as error:
        print(f"{args.command}: {error}", file=sys.stderr)
        return 2
    except WarehouseLockedError as error:
        print(f"{args.command}: not recorded, {error}", file=sys.stderr)
        return 2
    print(f"Recorded {event.action} effective from {event.effective_from} by "
          f"{event.recorded_by} at {event.recorded_at:%Y-%m-%d %H:%M:%S} UTC"
          + (f": {event.reason}" if event.reason else "") + ".")
    print(f"From {event.effective_from} on: {EFFECTS[event.action]}.")
    note = replay_note(store, event.effective_from)
    if note:
        print(note)
    return 0


def replay_note(store: Warehouse, effective_from: date) -> str | None:
    """What to do when the ledger already stored was computed without a decision that
    applies from ``effective_from``; None when it reaches no session that far."""
    import pandas as pd

    stored = store.query("SELECT max(as_of) AS d FROM accounts") \
        if store.table_exists("accounts") else None
    last = stored["d"].iloc[0] if stored is not None and not stored.empty else None
    if last is None or pd.isna(last) or last.date() < effective_from:
        return None
    return (f"The ledger already stored up to {last.date()} was computed without it: "
            f"replay from {effective_from} to apply it.")


def cmd_controls(args: argparse.Namespace) -> int:
    from trade_pipelines.agent.execution.controls import ControlSchedule, events_frame
    from trade_pipelines.control import default_effective_from, home_calendar, load_events
    from trade_pipelines.warehouse import Warehouse

    store = Warehouse(paths().warehouse)
    events = load_events(store)
    frame = events_frame(events)
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(out, index=False)
        print(f"Exported {len(frame)} control events to {out}")
        return 0
    if not events:
        print("No control events recorded: trading is active.")
    for e in ControlSchedule(events).events:
        print(f"{e.effective_from}  {e.action:<6}  by {e.recorded_by:<16} at "
              f"{e.recorded_at:%Y-%m-%d %H:%M:%S} UTC  {e.reason or '-'}")
    upcoming = default_effective_from(calendar=home_calendar(store))
    print(f"Next session {upcoming}: {ControlSchedule(events).state(upcoming).describe()}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    helps = {"pause": "pause new entries from a session on (exits still fill)",
             "resume": "allow new entries again from a session on",
             "halt": "sell every paper position at a session's bar and refuse entries"}
    for action, text in helps.items():
        command = sub.add_parser(action, help=text, description=f"{text}; {EFFECTS[action]}.")
        command.add_argument("--reason", required=action == "pause", default="",
                             metavar="TEXT", help="why (recorded with who and when)")
        command.add_argument("--from", dest="effective_from", type=parse_date, default=None,
                             metavar="DATE",
                             help="the first session of the home's market it applies to "
                                  "(default: the next session after now; a past one "
                                  "replays what-if)")
        command.set_defaults(func=cmd_control)
    listing = sub.add_parser("controls", help="list the recorded control events")
    listing.add_argument("--out", default=None, help="write them to this CSV instead")
    listing.set_defaults(func=cmd_controls)
