"""``trade-pipelines memory add | search | list | reindex``: teach the agent a lesson,
search its memories by meaning, and rebuild the semantic index from the warehouse."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, date, datetime

from trade_pipelines.cli.common import parse_date
from trade_pipelines.settings import paths


def cmd_add(args: argparse.Namespace) -> int:
    from trade_pipelines.agent.memory.taught import taught_memory
    from trade_pipelines.control import os_user
    from trade_pipelines.memory_index.index import MemoryIndex
    from trade_pipelines.warehouse import Warehouse, WarehouseLockedError

    home = paths()
    if args.as_of < date.today() and not args.backdate:
        print(f"memory add: --as-of {args.as_of} is before today: a replay of the days "
              "between would recall a lesson written with hindsight. Pass --backdate to "
              "record it anyway (decisions that recall it are labelled replay_hindsight).",
              file=sys.stderr)
        return 2
    try:
        row = taught_memory(args.text, args.as_of, os_user(),
                            datetime.now(UTC).replace(tzinfo=None), args.symbol,
                            (args.tags or "").split(","), args.importance)
    except ValueError as error:
        print(f"memory add: {error}", file=sys.stderr)
        return 2
    store = Warehouse(home.warehouse)
    try:
        store.migrate()
        store.upsert("taught_memories", row, ["memory_id"])
    except WarehouseLockedError as error:
        print(f"memory add: not recorded, {error}", file=sys.stderr)
        return 2
    with MemoryIndex(home.memory_index) as index:
        index.upsert(row)
    memory = row.iloc[0]
    print(f"Taught {memory['memory_id']} as of {memory['as_of']} (importance "
          f"{memory['importance']}, {memory['tier']}"
          + (f", {memory['symbol']}" if memory["symbol"] else "")
          + (f", tags {memory['tags']}" if memory["tags"] else "") + f"): {memory['text']}")
    print(f"Decisions after {memory['as_of']} can recall it; replay from then on to let "
          "stored decisions hear it.")
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    from trade_pipelines.memory_index.index import MemoryIndex

    with MemoryIndex(paths().memory_index) as index:
        if index.count() == 0:
            print("memory search: the memory index is empty; teach a memory "
                  "(`trade-pipelines memory add`) or run `trade-pipelines replay`",
                  file=sys.stderr)
            return 2
        hits = index.search(args.query, as_of=args.as_of, n=args.n, symbol=args.symbol)
    if not hits:
        print(f"No memory formed on or before {args.as_of} matches.")
        return 0
    for rank, hit in enumerate(hits, 1):
        meta = hit["metadata"]
        # Chroma's cosine distance is 1 - cosine similarity: the score is the similarity.
        print(f"{rank}. score {1.0 - hit['distance']:.3f}  {hit['memory_id']}  "
              f"{hit['as_of']}  {meta.get('source', '-')}/{meta.get('kind', '-')}  "
              f"importance {meta.get('importance', '-')}  {meta.get('symbol', '')}\n"
              f"    {hit['text']}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from trade_pipelines.warehouse import Warehouse

    store = Warehouse(paths().warehouse)
    taught = store.query("SELECT * FROM taught_memories ORDER BY as_of, memory_id") \
        if store.table_exists("taught_memories") else None
    if taught is None or taught.empty:
        print("No taught memory yet: `trade-pipelines memory add \"TEXT\"` teaches one.")
        return 0
    for m in taught.itertuples():
        print(f"{m.as_of:%Y-%m-%d}  {m.memory_id}  importance {m.importance}  "
              f"{m.symbol or '-'}  [{m.tags}]  by {m.recorded_by}\n    {m.text}")
    return 0


def cmd_reindex(args: argparse.Namespace) -> int:
    from trade_pipelines.memory_index.index import MemoryIndex
    from trade_pipelines.memory_index.stored import stored_memories
    from trade_pipelines.warehouse import Warehouse

    home = paths()
    memories = stored_memories(Warehouse(home.warehouse))
    with MemoryIndex(home.memory_index) as index:
        written = index.rebuild(memories)
    taught = int((memories["source"] == "human").sum()) if not memories.empty else 0
    print(f"Rebuilt the memory index at {home.memory_index} from the warehouse: {written} "
          f"memories ({written - taught} the agent's, {taught} taught).")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    memory = sub.add_parser("memory", help="teach, search and reindex the agent's memories")
    commands = memory.add_subparsers(dest="memory_command", required=True)
    add = commands.add_parser("add", help="teach the agent a lesson (recalled like its own "
                                          "memories by decisions after its day)")
    add.add_argument("text")
    add.add_argument("--symbol", default=None, help="the symbol it is about (optional)")
    add.add_argument("--tags", default="", help="comma-separated tags, e.g. semis,guidance")
    add.add_argument("--as-of", type=parse_date, default=date.today(),
                     help="the day it became known (default: today)")
    add.add_argument("--backdate", action="store_true",
                     help="allow an --as-of before today (the decisions between that day "
                          "and today that recall it are labelled replay_hindsight)")
    add.add_argument("--importance", type=int, default=8,
                     help="1-10 (default 8: a long-term lesson)")
    add.set_defaults(func=cmd_add)
    search = commands.add_parser("search", help="the memories nearest in meaning to a query")
    search.add_argument("query")
    search.add_argument("--as-of", type=parse_date, default=date.today(),
                        help="only memories formed on or before this day (default: today)")
    search.add_argument("--symbol", default=None)
    search.add_argument("-n", type=int, default=5, help="how many (default 5)")
    search.set_defaults(func=cmd_search)
    listing = commands.add_parser("list", help="the taught memories")
    listing.set_defaults(func=cmd_list)
    reindex = commands.add_parser("reindex", help="rebuild the semantic index from the "
                                                  "warehouse (agent and taught memories)")
    reindex.set_defaults(func=cmd_reindex)
