"""``trade-pipelines changes list | rollback`` and ``proposals list | approve | reject``:
what the reviews changed in the agent's behaviour, with each change's effect, and the
humans' decisions on changes and framework proposals as dated, audited rows the next
trading cycle (or a replay) reads."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, date, datetime
from typing import Any

from trade_pipelines.cli.common import parse_date
from trade_pipelines.settings import paths

PROPOSAL_STATUSES = ("pending", "approved", "rejected", "expired", "all")
DEFAULT_LIMIT = 30


def _stored(text: Any) -> Any:
    """A value as the warehouse stores it (JSON text, or NULL) read back."""
    return None if text is None or (isinstance(text, float) and text != text) \
        else json.loads(text)


def _value(value: Any) -> str:
    """A change's value as a short phrase."""
    if value is None:
        return "-"
    if isinstance(value, dict) and "size_multiplier" in value:
        return (f"{value.get('family') or 'any family'} in {value.get('regime') or 'any'} "
                f"regime x{float(value['size_multiplier']):g}")
    return json.dumps(value, sort_keys=True)


def _refused(command: str, message: object) -> int:
    print(f"{command}: {message}", file=sys.stderr)
    return 2


def cmd_changes_list(args: argparse.Namespace) -> int:
    from trade_pipelines.agent.reflection.changes import CHANGE_KINDS
    from trade_pipelines.change_control import changes_with_effects
    from trade_pipelines.warehouse import Warehouse

    if args.kind and args.kind not in CHANGE_KINDS:
        return _refused("changes list",
                        f"unknown kind {args.kind!r}; one of {', '.join(CHANGE_KINDS)}")
    if args.limit < 0:
        return _refused("changes list", "--limit must be 0 (all) or more")
    table = changes_with_effects(Warehouse(paths().warehouse))
    if args.kind:
        table = table[table["kind"] == args.kind]
    if table.empty:
        print("No change recorded" + (f" of kind {args.kind}" if args.kind else "") +
              ": the reviews have not changed the agent's behaviour yet.")
        return 0
    shown = table.tail(args.limit) if args.limit else table
    if len(shown) < len(table):
        print(f"The last {len(shown)} of {len(table)} changes (--limit 0 lists all):")
    print("change_id  as_of  kind  target  old -> new  review  effective_from  status")
    for c in shown.itertuples(index=False):
        print(f"{c.change_id}  {c.as_of:%Y-%m-%d}  {c.kind}  {c.target}  "
              f"{_value(_stored(c.old_value))} -> {_value(_stored(c.new_value))}  {c.review}  "
              f"from {c.effective_from:%Y-%m-%d}  {c.status}\n"
              f"    effect on {c.metric}: {c.effect}")
    return 0


def _record(command: str, subject_id: str, action: str, reason: str,
            effective_from: date | None) -> int:
    from trade_pipelines.agent.reflection.changes import APPROVE, ROLLBACK
    from trade_pipelines.change_control import ChangeDecisionError, record_change_decision
    from trade_pipelines.cli.controls import replay_note
    from trade_pipelines.control import os_user
    from trade_pipelines.warehouse import Warehouse, WarehouseLockedError

    store = Warehouse(paths().warehouse)
    try:
        decision = record_change_decision(store, subject_id, action, reason, os_user(),
                                          effective_from, datetime.now(UTC))
    except ChangeDecisionError as error:
        return _refused(command, error)
    except WarehouseLockedError as error:
        return _refused(command, f"not recorded, {error}")
    print(f"Recorded {decision.action} of {decision.subject_id} effective from "
          f"{decision.effective_from} by {decision.recorded_by} at "
          f"{decision.recorded_at:%Y-%m-%d %H:%M:%S} UTC"
          + (f": {decision.reason}" if decision.reason else "") + ".")
    if action not in (ROLLBACK, APPROVE):
        print("The proposal's change will never apply.")
        return 0
    meaning = "the policy is folded without this change" if action == ROLLBACK \
        else "the proposal's change applies"
    print(f"From {decision.effective_from} on, {meaning}: the next trading cycle applies "
          f"the decision, or a replay from {decision.effective_from}.")
    note = replay_note(store, decision.effective_from)
    if note:
        print(note)
    return 0


def cmd_changes_rollback(args: argparse.Namespace) -> int:
    return _record("changes rollback", args.change_id, "rollback", args.reason,
                   args.effective_from)


def cmd_proposals_list(args: argparse.Namespace) -> int:
    from trade_pipelines.agent.reflection.changes import proposal_status
    from trade_pipelines.change_control import load_change_decisions, load_proposals
    from trade_pipelines.warehouse import Warehouse

    if args.status not in PROPOSAL_STATUSES:
        return _refused("proposals list", f"unknown status {args.status!r}; one of "
                                          f"{', '.join(PROPOSAL_STATUSES)}")
    store = Warehouse(paths().warehouse)
    decisions = load_change_decisions(store)
    today = datetime.now(UTC).date()
    rows = []
    for p in sorted(load_proposals(store), key=lambda p: (p.as_of, p.proposal_id)):
        status, decided = proposal_status(p, decisions, today)
        if args.status in ("all", status):
            rows.append((p, status, decided))
    if not rows:
        print(f"No {'' if args.status == 'all' else args.status + ' '}framework proposal.")
        return 0
    for p, status, decided in rows:
        if decided is None:
            detail = f"{status}, expires {p.expires_on}" if status == "pending" \
                else f"{status} on {p.expires_on}"
        elif status == "approved":
            detail = f"approved by {decided.recorded_by} from {decided.effective_from}"
        else:
            detail = f"rejected by {decided.recorded_by}: {decided.reason}"
        print(f"{p.proposal_id}  {p.as_of}  {p.review}  {p.kind} {p.target} -> "
              f"{_value(p.new_value)}  {detail}\n    {p.title}. {p.evidence}")
    return 0


def cmd_proposals_decide(args: argparse.Namespace) -> int:
    return _record(f"proposals {args.proposals_command}", args.proposal_id,
                   args.proposals_command, args.reason,
                   getattr(args, "effective_from", None))


def _from_argument(command: argparse.ArgumentParser) -> None:
    command.add_argument("--from", dest="effective_from", type=parse_date, default=None,
                         metavar="YYYY-MM-DD",
                         help="the first session of the home's market it applies to "
                              "(default: the next session after now; a past one replays "
                              "what-if)")


def register(sub: argparse._SubParsersAction) -> None:
    changes = sub.add_parser("changes", help="what the reviews changed, with each change's "
                                             "effect; roll one back")
    commands = changes.add_subparsers(dest="changes_command", required=True)
    listing = commands.add_parser("list", help="the changes, oldest first, with status and "
                                               "effect before vs after")
    listing.add_argument("--kind", default=None, help="only changes of this kind")
    listing.add_argument("--limit", type=int, default=DEFAULT_LIMIT,
                         help=f"the last N (default {DEFAULT_LIMIT}; 0: all)")
    listing.set_defaults(func=cmd_changes_list)
    rollback = commands.add_parser("rollback", help="fold the policy without a change from "
                                                    "a session on")
    rollback.add_argument("change_id")
    rollback.add_argument("--reason", required=True, help="why (recorded with who and when)")
    _from_argument(rollback)
    rollback.set_defaults(func=cmd_changes_rollback)

    proposals = sub.add_parser("proposals", help="the framework changes waiting for a "
                                                 "human: list, approve, reject")
    decide = proposals.add_subparsers(dest="proposals_command", required=True)
    plist = decide.add_parser("list", help="the framework proposals with their status")
    plist.add_argument("--status", default="pending",
                       help=f"one of {', '.join(PROPOSAL_STATUSES)} (default pending)")
    plist.set_defaults(func=cmd_proposals_list)
    approve = decide.add_parser("approve", help="apply a proposal's change from a session on")
    approve.add_argument("proposal_id")
    approve.add_argument("--reason", default="", help="why (recorded with who and when)")
    _from_argument(approve)
    approve.set_defaults(func=cmd_proposals_decide)
    reject = decide.add_parser("reject", help="never apply a proposal's change")
    reject.add_argument("proposal_id")
    reject.add_argument("--reason", required=True, help="why (recorded with who and when)")
    reject.set_defaults(func=cmd_proposals_decide)
