"""``trade-pipelines accept-jump``: record a reviewed move as real, so the split and
bad-print checks stop flagging it."""

from __future__ import annotations

import argparse
import sys

from trade_pipelines.cli.common import parse_date
from trade_pipelines.settings import paths


def cmd_accept_jump(args: argparse.Namespace) -> int:
    from trade_pipelines.market_data.accepted_jumps import AcceptedJumpsError, accept_jump

    table = paths().accepted_jumps
    try:
        new = accept_jump(table, args.symbol, args.date, args.reason)
    except AcceptedJumpsError as error:
        print(f"accept-jump: {error}", file=sys.stderr)
        return 2
    symbol = args.symbol.strip().upper()
    print(f"{'Accepted' if new else 'Re-accepted'} {symbol} {args.date} as a real move "
          f"({' '.join(args.reason.split())}) in {table}.")
    print("The blocking bar check, the live sources' jump check and import-bars no longer "
          "flag it; bars an import held back for it come in when the file is imported "
          "again.")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    accept = sub.add_parser(
        "accept-jump", help="accept a flagged move (a bar beyond its price limit, at a "
                            "split ratio, or a bad print) as real, with the reason")
    accept.add_argument("symbol")
    accept.add_argument("date", type=parse_date, help="the day of the move (YYYY-MM-DD)")
    accept.add_argument("--reason", required=True,
                        help="why the move is real (recorded with it; required)")
    accept.set_defaults(func=cmd_accept_jump)
