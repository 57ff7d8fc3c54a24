"""``trade-pipelines import-bars``: a user's daily bars into the warehouse."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from trade_pipelines.settings import paths


def cmd_import_bars(args: argparse.Namespace) -> int:
    from trade_pipelines.market_data.accepted_jumps import AcceptedJumpsError
    from trade_pipelines.market_data.errors import BarImportRejected, BarSchemaError
    from trade_pipelines.market_data.importer import import_bars_file
    from trade_pipelines.warehouse import Warehouse

    try:
        report = import_bars_file(Path(args.path), Warehouse(paths().warehouse),
                                  strict=args.strict, symbol=args.symbol,
                                  replace=args.replace)
    except (BarSchemaError, BarImportRejected, AcceptedJumpsError) as error:
        print(f"import-bars: {error}", file=sys.stderr)
        return 2
    print(report.message)
    return 3 if report.quarantined else 0


def register(sub: argparse._SubParsersAction) -> None:
    imp = sub.add_parser("import-bars", help="import daily bars from a CSV or Parquet file")
    imp.add_argument("path")
    imp.add_argument("--symbol", default=None,
                     help="the ticker of a one-symbol file that has no symbol column")
    imp.add_argument("--strict", action="store_true",
                     help="reject the whole file if any row is bad (default: quarantine them)")
    imp.add_argument("--replace", action="store_true",
                     help="make this file the only source of its symbols: their stored bars "
                          "from other sources (built-in, yfinance, other files) are deleted "
                          "(default: refuse a file that overlaps them)")
    imp.set_defaults(func=cmd_import_bars)
