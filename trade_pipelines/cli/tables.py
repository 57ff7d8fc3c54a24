"""``trade-pipelines export`` and ``recall``: read what the agent stored."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

from trade_pipelines.cli.common import parse_date
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
    frame = store.query(f"SELECT * FROM {args.table} ORDER BY ALL")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(out, index=False)
    print(f"Exported {len(frame)} rows of {args.table} to {out}")
    return 0


def cmd_recall(args: argparse.Namespace) -> int:
    """Search the memory index by meaning, as the agent knew it on a day."""
    from trade_pipelines.memory_index.index import MemoryIndex

    home = paths()
    with MemoryIndex(home.memory_index) as index:
        if index.count() == 0:
            print("recall: the memory index is empty; run `trade-pipelines replay` first",
                  file=sys.stderr)
            return 2
        hits = index.search(args.query, as_of=args.as_of, n=args.n, symbol=args.symbol)
    if not hits:
        print(f"No memory formed on or before {args.as_of} matches.")
        return 0
    for hit in hits:
        meta = hit["metadata"]
        print(f"{hit['as_of']}  {hit['memory_id']}  distance {max(hit['distance'], 0.0):.3f}  "
              f"importance {meta.get('importance', '-')}  {meta.get('tier', '')}\n"
              f"    {hit['text']}")
    return 0



def register(sub: argparse._SubParsersAction) -> None:
    export = sub.add_parser("export", help="export a warehouse table to CSV")
    export.add_argument("table")
    export.add_argument("--out", required=True)
    export.set_defaults(func=cmd_export)
    recall = sub.add_parser("recall", help="search the agent's memories by meaning")
    recall.add_argument("query")
    recall.add_argument("--as-of", type=parse_date, default=date.today(),
                        help="only memories formed on or before this day (default: today)")
    recall.add_argument("--n", type=int, default=5)
    recall.add_argument("--symbol", default=None)
    recall.set_defaults(func=cmd_recall)
