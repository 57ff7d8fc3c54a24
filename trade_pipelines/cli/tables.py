"""``trade-pipelines export``: read what the agent stored."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from trade_pipelines.settings import paths


def cmd_export(args: argparse.Namespace) -> int:
    from trade_pipelines.warehouse import Warehouse
    from trade_pipelines.warehouse.schema import EXPORTABLE_TABLES

    if args.table not in EXPORTABLE_TABLES:
        print(f"export: unknown table {args.table!r}; choose one of: "
              f"{', '.join(EXPORTABLE_TABLES)}", file=sys.stderr)
        return 2
    store = Warehouse(paths().warehouse)
    if not store.table_exists(args.table):
        print(f"export: the warehouse {store.path} has no {args.table} yet; run "
              "`trade-pipelines replay` first", file=sys.stderr)
        return 2
    if args.table == "changes":  # with each change's status and effect, as `changes list`
        from trade_pipelines.change_control import changes_with_effects

        frame = changes_with_effects(store)
    else:
        frame = store.query(f"SELECT * FROM {args.table} ORDER BY ALL")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(out, index=False)
    print(f"Exported {len(frame)} rows of {args.table} to {out}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    export = sub.add_parser("export", help="export a warehouse table to CSV")
    export.add_argument("table")
    export.add_argument("--out", required=True)
    export.set_defaults(func=cmd_export)
