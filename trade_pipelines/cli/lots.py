"""``trade-pipelines set-board-lot``: a Hong Kong stock's board lot, recorded as data."""

from __future__ import annotations

import argparse
import sys

from trade_pipelines.settings import paths


def cmd_set_board_lot(args: argparse.Namespace) -> int:
    from trade_pipelines.agent.markets import HK_BOARD_LOTS
    from trade_pipelines.board_lots import BoardLotsError, set_board_lot

    path = paths().board_lots
    try:
        before = set_board_lot(path, args.symbol, args.lot)
    except BoardLotsError as error:
        print(f"set-board-lot: {error}", file=sys.stderr)
        return 2
    symbol = args.symbol.strip().upper()
    was = before if before is not None else HK_BOARD_LOTS.get(symbol)
    print(f"{symbol}: board lot {int(args.lot)} recorded in {path}"
          + (f" (was {was:g})" if was is not None else ""))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    cmd = sub.add_parser("set-board-lot",
                         help="record a Hong Kong stock's board lot in the home's "
                              "board_lots.csv")
    cmd.add_argument("symbol", help="a Hong Kong ticker, such as 9988.HK")
    cmd.add_argument("lot", help="shares in one board lot, a positive whole number")
    cmd.set_defaults(func=cmd_set_board_lot)
